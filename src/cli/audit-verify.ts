import 'reflect-metadata';
import { AuditRepository } from '../audit/audit.repository';
import { CliResult, finish, requireDatabaseUrl, withDataSource } from './cli-database';

/**
 * `npm run audit:verify`: recomputes the audit hash chain with the same database function the
 * insert trigger uses. Exit 0 when intact, 1 at the first broken row, 2 when it cannot check.
 */
export function runAuditVerify(url: string): Promise<CliResult> {
  return withDataSource(url, async (dataSource) => {
    const { checked, firstBreak } = await new AuditRepository(dataSource).verifyChain();
    if (firstBreak) {
      return {
        code: 1,
        output: `audit chain broken at event id ${firstBreak.id} (${firstBreak.reason})`,
      };
    }
    return { code: 0, output: `audit chain intact: ${checked} events checked` };
  });
}

async function main(): Promise<void> {
  const url = requireDatabaseUrl(process.env);
  finish(typeof url === 'string' ? await runAuditVerify(url) : url);
}

if (require.main === module) void main();
