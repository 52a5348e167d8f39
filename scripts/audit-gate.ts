/**
 * Supply-chain gate (runbook "npm Audit & Dependency Security"): fails on critical advisories in
 * production dependencies. A registry that cannot be queried is reported loudly as "not
 * evaluated" — never mistaken for a pass or a failure. Run: `npm run audit:gate`.
 */
import { spawnSync } from 'node:child_process';

export type AuditVerdict =
  | { kind: 'passed'; summary: string }
  | { kind: 'failed'; summary: string }
  | { kind: 'not-evaluated'; summary: string };

interface AuditReport {
  metadata?: { vulnerabilities?: Record<string, number> };
  statusCode?: number;
  error?: { summary?: string };
}

export function auditVerdict(report: AuditReport | undefined): AuditVerdict {
  const counts = report?.metadata?.vulnerabilities;
  if (counts) {
    const summary = ['critical', 'high', 'moderate', 'low']
      .map((level) => `${level} ${counts[level] ?? 0}`)
      .join(', ');
    return (counts.critical ?? 0) > 0 ? { kind: 'failed', summary } : { kind: 'passed', summary };
  }
  const why = report?.statusCode
    ? `the advisory endpoint answered HTTP ${report.statusCode}`
    : 'npm audit produced no report';
  return { kind: 'not-evaluated', summary: why };
}

function main(): void {
  const result = spawnSync('npm', ['audit', '--omit=dev', '--json'], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  let report: AuditReport | undefined;
  try {
    report = JSON.parse(result.stdout || 'null') as AuditReport | undefined;
  } catch {
    report = undefined;
  }
  const verdict = auditVerdict(report ?? undefined);
  switch (verdict.kind) {
    case 'passed':
      console.log(`audit gate: passed — production dependencies: ${verdict.summary}`);
      return;
    case 'failed':
      console.error(
        `audit gate: FAILED — critical advisories in production dependencies: ${verdict.summary}`,
      );
      process.exit(1);
      return;
    case 'not-evaluated':
      console.log(
        `audit gate: NOT EVALUATED — could not query the advisory database (${verdict.summary}).`,
      );
      console.log(
        'audit gate: run `npm audit --omit=dev` against a registry that serves advisories before releasing.',
      );
  }
}

if (require.main === module) main();
