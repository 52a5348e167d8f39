import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROCESS_TEST_TIMEOUT_MS, runProcess } from '../support/run-process';

/** The real server process refuses a bad environment before it touches anything. */
describe('start-up configuration check', () => {
  let dataDir: string;

  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'agenthub-config-test-'));
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  const startServer = (env: Record<string, string>) =>
    runProcess('node', ['-r', '@swc-node/register', 'src/main.ts'], {
      // A database nobody listens on: if validation let the process through, it would fail later
      // with a connection error instead of the configuration message asserted below.
      env: {
        DATABASE_URL: 'postgres://postgres@127.0.0.1:1/agenthub_test',
        AGENTHUB_DATA_DIR: dataDir,
        LOG_LEVEL: 'silent',
        ...env,
      },
      timeoutMs: 20_000,
    });

  it(
    'exits quickly with EX_CONFIG (78) and names PORT when PORT=abc',
    async () => {
      const result = await startServer({ PORT: 'abc' });
      expect(result.signal).toBeNull();
      expect(result.code).toBe(78);
      expect(result.stderr).toContain('Invalid configuration');
      expect(result.stderr).toMatch(/PORT must be a whole number .*"abc"/);
      expect(result.elapsedMs).toBeLessThan(15_000);
    },
    PROCESS_TEST_TIMEOUT_MS,
  );

  it(
    'refuses to start in production without JWT_SECRET, naming it, and writes no data',
    async () => {
      const result = await startServer({ NODE_ENV: 'production' });
      expect(result.code).toBe(78);
      expect(result.stderr).toContain('JWT_SECRET is required when NODE_ENV=production');
      expect(readdirSync(dataDir)).toEqual([]);
    },
    PROCESS_TEST_TIMEOUT_MS,
  );
});
