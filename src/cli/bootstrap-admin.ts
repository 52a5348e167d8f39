import 'reflect-metadata';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { Logger } from '@nestjs/common';
import { AdminBootstrapService } from '../agents/admin-bootstrap.service';
import { AgentsRepository } from '../agents/agents.repository';
import { AgentsService } from '../agents/agents.service';
import { ApiTokensRepository } from '../agents/api-tokens.repository';
import { hashApiToken } from '../auth/api-token';
import { AuditRepository } from '../audit/audit.repository';
import { AuditService } from '../audit/audit.service';
import { ConfigError, loadConfig, type AppConfig } from '../config/app-config';
import { CliResult, finish, requireDatabaseUrl, withDataSource } from './cli-database';

const USAGE = 'usage: npm run admin:bootstrap [-- --new-token]';

/**
 * `npm run admin:bootstrap`: makes sure the bootstrap admin exists (as the server does on first
 * start) and, with `--new-token`, issues it a fresh API token. A token made here is printed once,
 * as the last line of the output; audit rows are written exactly as the server writes them.
 */
export async function runBootstrapAdmin(
  env: Record<string, string | undefined>,
  args: string[],
): Promise<CliResult> {
  const unknown = args.filter((arg) => arg !== '--new-token');
  if (unknown.length > 0) return { code: 64, output: `unknown argument ${unknown[0]}\n${USAGE}` };
  const newToken = args.includes('--new-token');

  const url = requireDatabaseUrl(env);
  if (typeof url !== 'string') return url;
  let config: AppConfig;
  try {
    // Only the variables this command uses; the server's own settings are not its business.
    config = loadConfig({ DATABASE_URL: url, ADMIN_API_TOKEN: env.ADMIN_API_TOKEN });
  } catch (error) {
    if (error instanceof ConfigError) return { code: 78, output: error.message };
    throw error;
  }

  return withDataSource(url, async (dataSource) => {
    const events = new EventEmitter2();
    new AuditService(events, new AuditRepository(dataSource)).onModuleInit();
    const agents = new AgentsRepository(dataSource);
    const tokens = new ApiTokensRepository(dataSource);
    const bootstrap = new AdminBootstrapService(
      // --new-token always issues a generated token; ADMIN_API_TOKEN is for the plain run.
      newToken ? { ...config, adminApiToken: undefined } : config,
      agents,
      tokens,
      new AgentsService(agents, tokens, events),
      events,
    );
    const result = await bootstrap.ensureAdmin({ force: newToken });
    if (!result) {
      const admin = await agents.findByName('admin');
      const configured = config.adminApiToken
        ? await tokens.findByHash(hashApiToken(config.adminApiToken))
        : null;
      return {
        code: 0,
        output: [
          `an admin already exists${admin ? ` (agent admin, ${admin.id})` : ''}.`,
          ...(configured ? [`ADMIN_API_TOKEN is a token of agent ${configured.agent.name}.`] : []),
          'To issue a new admin API token: npm run admin:bootstrap -- --new-token',
        ].join('\n'),
      };
    }
    const lines = [
      result.created
        ? `bootstrap admin created (agent admin, ${result.agentId})`
        : `new API token issued for agent admin (${result.agentId})`,
    ];
    if (result.generatedToken) {
      lines.push('Its API token is shown only this once:', result.generatedToken);
    } else {
      lines.push('Its API token is the one in ADMIN_API_TOKEN.');
    }
    return { code: 0, output: lines.join('\n') };
  });
}

async function main(): Promise<void> {
  // The service's progress log would only repeat what the result says.
  Logger.overrideLogger(['error', 'warn']);
  finish(await runBootstrapAdmin(process.env, process.argv.slice(2)));
}

if (require.main === module) void main();
