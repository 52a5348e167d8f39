import { Logger } from '@nestjs/common';
import { Client } from 'pg';
import { runAuditVerify } from '../../src/cli/audit-verify';
import { runBootstrapAdmin } from '../../src/cli/bootstrap-admin';
import { generateApiToken } from '../../src/auth/api-token';
import { Http } from '../support/http';
import { PROCESS_TEST_TIMEOUT_MS, runCli } from '../support/run-process';
import { createTestDatabase } from '../support/test-database';
import { bootTestApp, TestApp } from '../support/test-app';

const TOKEN_LINE = /^ahp_[0-9A-Za-z]{43}$/m;

/** `npm run admin:bootstrap` on a migrated database the server has never started on. */
describe('admin:bootstrap', () => {
  let db: { url: string; drop: () => Promise<void> };
  let sql: Client;

  beforeAll(async () => {
    // As the CLI entry does: the service's progress log would only clutter the test output.
    Logger.overrideLogger(['error', 'warn']);
    db = await createTestDatabase();
    sql = new Client({ connectionString: db.url });
    await sql.connect();
  });
  afterAll(async () => {
    await sql.end();
    await db.drop();
  });

  const admins = async () =>
    (await sql.query("SELECT id::text, name, role, disabled FROM agents WHERE role = 'admin'"))
      .rows;
  const auditTypes = async () =>
    (await sql.query('SELECT type FROM audit_events ORDER BY id')).rows.map((r) => r.type);

  it('creates agent admin and prints its new API token once, as the last line', async () => {
    const result = await runBootstrapAdmin({ DATABASE_URL: db.url }, []);
    expect(result.code).toBe(0);
    expect(result.output).toContain('bootstrap admin created');
    const lines = result.output.split('\n');
    expect(lines[lines.length - 1]).toMatch(TOKEN_LINE);
    expect(result.output.match(/ahp_/g)).toHaveLength(1);
    expect(await admins()).toEqual([
      { id: expect.any(String), name: 'admin', role: 'admin', disabled: false },
    ]);
    expect(await auditTypes()).toEqual(['agent-created', 'token-created']);
  });

  it('does nothing and prints no token when an admin exists', async () => {
    const result = await runBootstrapAdmin({ DATABASE_URL: db.url }, []);
    expect(result.code).toBe(0);
    expect(result.output).toContain('an admin already exists');
    expect(result.output).not.toMatch(/ahp_/);
    expect(await admins()).toHaveLength(1);
    expect(await auditTypes()).toEqual(['agent-created', 'token-created']);
  });

  describe('with the server running on that database', () => {
    let t: TestApp;
    let http: Http;

    beforeAll(async () => {
      t = await bootTestApp({}, { url: db.url });
      http = new Http(t.url);
    });
    afterAll(() => t.close());

    it('issues a working admin token with --new-token, audited, leaving older tokens valid', async () => {
      const first = await runBootstrapAdmin({ DATABASE_URL: db.url }, ['--new-token']);
      const second = await runBootstrapAdmin({ DATABASE_URL: db.url }, ['--new-token']);
      const [tokenA, tokenB] = [first, second].map((r) => r.output.split('\n').pop()!);
      expect(tokenA).toMatch(TOKEN_LINE);
      expect(tokenB).toMatch(TOKEN_LINE);
      expect(tokenA).not.toBe(tokenB);
      for (const token of [tokenA, tokenB]) {
        const me = await http.get('/v1/me', token);
        expect(me.status).toBe(200);
        expect(me.body).toMatchObject({ name: 'admin', role: 'admin' });
      }
      const created = await sql.query(
        "SELECT data FROM audit_events WHERE type = 'token-created' ORDER BY id DESC LIMIT 2",
      );
      for (const row of created.rows) expect(row.data).toMatchObject({ bootstrap: true });
      const everything = JSON.stringify((await sql.query('SELECT * FROM audit_events')).rows);
      expect(everything).not.toContain(tokenA);
      expect(everything).not.toContain(tokenB);
      expect((await runAuditVerify(db.url)).code).toBe(0);
    });

    it('registers ADMIN_API_TOKEN from the environment without printing it', async () => {
      const configured = generateApiToken();
      const result = await runBootstrapAdmin(
        { DATABASE_URL: db.url, ADMIN_API_TOKEN: configured },
        [],
      );
      expect(result.code).toBe(0);
      expect(result.output).toContain('ADMIN_API_TOKEN is a token of agent admin');
      expect(result.output).not.toContain(configured);
      expect((await http.get('/v1/me', configured)).status).toBe(200);
    });
  });

  it('refuses unknown arguments and a malformed ADMIN_API_TOKEN', async () => {
    const unknown = await runBootstrapAdmin({ DATABASE_URL: db.url }, ['--force']);
    expect(unknown.code).toBe(64);
    expect(unknown.output).toContain('--new-token');
    const bad = await runBootstrapAdmin({ DATABASE_URL: db.url, ADMIN_API_TOKEN: 'bad' }, []);
    expect(bad.code).toBe(78);
    expect(bad.output).toContain('ADMIN_API_TOKEN');
  });

  it(
    'runs as the npm command, and explains a missing DATABASE_URL',
    async () => {
      const ok = await runCli('src/cli/bootstrap-admin.ts', { DATABASE_URL: db.url });
      expect(ok.code).toBe(0);
      expect(ok.stdout).toContain('an admin already exists');
      const missing = await runCli('src/cli/bootstrap-admin.ts', {});
      expect(missing.code).toBe(2);
      expect(missing.stderr).toContain('DATABASE_URL is not set');
    },
    PROCESS_TEST_TIMEOUT_MS,
  );
});
