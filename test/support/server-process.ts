import { ChildProcess, spawn } from 'node:child_process';
import { generateApiToken } from '../../src/auth/api-token';
import { freePort } from '../../src/common/free-port';
import { PROJECT_ROOT } from './run-process';
import { TEST_JWT_SECRET } from './test-app';

export interface ServerProcess {
  url: string;
  port: number;
  child: ChildProcess;
  adminToken: string;
  output: () => string;
  /** Sends a signal and resolves with the exit code once the process is gone. */
  stop: (
    signal?: NodeJS.Signals,
  ) => Promise<{ code: number | null; signal: NodeJS.Signals | null; elapsedMs: number }>;
}

/**
 * Runs the real server (src/main.ts, compiled on the fly by @swc-node/register) as its own
 * process, for multi-node, shutdown and crash tests. Resolves once /readyz answers 200.
 */
export async function startServerProcess(
  env: Record<string, string>,
  options: { port?: number; adminToken?: string } = {},
): Promise<ServerProcess> {
  const port = options.port ?? (await freePort());
  const adminToken = options.adminToken ?? generateApiToken();
  const child = spawn(process.execPath, ['-r', '@swc-node/register', 'src/main.ts'], {
    cwd: PROJECT_ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      NODE_ENV: 'test',
      JWT_SECRET: TEST_JWT_SECRET,
      ADMIN_API_TOKEN: adminToken,
      LOG_LEVEL: 'warn',
      HOST: '127.0.0.1',
      PORT: String(port),
      RATE_LIMIT_REST_ANON: '1000000',
      RATE_LIMIT_REST_AUTH: '1000000',
      RATE_LIMIT_WS_EVENTS: '100000',
      RATE_LIMIT_WS_HANDSHAKES: '1000000',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    child.once('exit', (code, signal) => done({ code, signal })),
  );
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`server exited during start-up:\n${output}`);
    try {
      if ((await fetch(`${url}/readyz`)).status === 200) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`server not ready within 60 s:\n${output}`);
    }
    await new Promise((done) => setTimeout(done, 100));
  }
  return {
    url,
    port,
    child,
    adminToken,
    output: () => output,
    stop: async (signal = 'SIGTERM') => {
      const started = Date.now();
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const result = await exited;
      return { ...result, elapsedMs: Date.now() - started };
    },
  };
}
