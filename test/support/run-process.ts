import { spawn } from 'node:child_process';
import { resolve } from 'node:path';

export interface ProcessResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  elapsedMs: number;
}

export const PROJECT_ROOT = resolve(__dirname, '..', '..');

/**
 * Runs a command from the project root with exactly `env` (plus PATH and HOME) and collects its
 * output. A process still running after `timeoutMs` is killed, so a regression cannot leave a
 * server behind; the result then carries the signal.
 */
export function runProcess(
  command: string,
  args: string[],
  options: { env: Record<string, string>; timeoutMs?: number },
): Promise<ProcessResult> {
  const started = Date.now();
  const child = spawn(command, args, {
    cwd: PROJECT_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
  return new Promise((done, fail) => {
    child.once('error', fail);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      done({ code, signal, stdout, stderr, elapsedMs: Date.now() - started });
    });
  });
}

/** Jest timeout for a test that starts Node processes: they compile TypeScript on start-up. */
export const PROCESS_TEST_TIMEOUT_MS = 60_000;

/** Runs one of the `src/cli` commands the way `npm run` does (ts-node, transpile only). */
export function runCli(script: string, env: Record<string, string>): Promise<ProcessResult> {
  return runProcess('npx', ['ts-node', '--transpile-only', script], { env });
}
