import { Client } from 'pg';
import { runAuditVerify } from '../../src/cli/audit-verify';
import { createAgent, TestAgent } from '../factories/agents';
import { Http, HttpResult } from '../support/http';
import { PROCESS_TEST_TIMEOUT_MS, runCli } from '../support/run-process';
import { createTestDatabase } from '../support/test-database';
import { bootTestApp, TestApp } from '../support/test-app';

interface AuditRow {
  id: string;
  type: string;
  agent_id: string | null;
  target_type: string | null;
  target_id: string | null;
  ip: string | null;
  request_id: string | null;
  data: Record<string, unknown>;
  created_at: Date;
}

describe('audit log', () => {
  let t: TestApp;
  let http: Http;
  let db: Client;
  let adminId: string;
  /** Every credential this file has seen: none may ever appear in an audit row. */
  const secrets: string[] = [];

  beforeAll(async () => {
    t = await bootTestApp();
    http = new Http(t.url);
    db = new Client({ connectionString: t.databaseUrl });
    await db.connect();
    adminId = (await http.get('/v1/me', t.adminToken)).body.id;
    secrets.push(t.adminToken);
  });
  afterAll(async () => {
    await db.end();
    await t.close();
  });

  const rowsOf = async (requestId: string | null): Promise<AuditRow[]> =>
    (
      await db.query<AuditRow>('SELECT * FROM audit_events WHERE request_id = $1 ORDER BY id', [
        requestId,
      ])
    ).rows;

  /** The single audit row the request wrote, checked against the response that caused it. */
  const rowFor = async (response: HttpResult, type: string): Promise<AuditRow> => {
    const requestId = response.headers.get('x-request-id');
    expect(requestId).toBeTruthy();
    const rows = await rowsOf(requestId);
    expect(rows.map((r) => r.type)).toEqual([type]);
    expect(rows[0].ip).toBe('127.0.0.1');
    expect(rows[0].request_id).toBe(requestId);
    return rows[0];
  };

  const remember = (agent: TestAgent): TestAgent => {
    secrets.push(agent.apiToken, agent.jwt);
    return agent;
  };

  describe('records each security event with actor, ip and request id', () => {
    it('agent-created', async () => {
      const response = await http.post('/v1/agents', { name: 'audited-bot' }, t.adminToken);
      expect(response.status).toBe(201);
      const row = await rowFor(response, 'agent-created');
      expect(row).toMatchObject({
        agent_id: adminId,
        target_type: 'agent',
        target_id: response.body.id,
        data: { name: 'audited-bot', role: 'agent' },
      });
    });

    it('agent-updated, listing the changed fields', async () => {
      const { agent } = remember(await createAgent(http, t.adminToken));
      const response = await http.patch(
        `/v1/agents/${agent.id}`,
        { displayName: 'Renamed', disabled: true },
        t.adminToken,
      );
      expect(response.status).toBe(200);
      const row = await rowFor(response, 'agent-updated');
      expect(row).toMatchObject({ agent_id: adminId, target_type: 'agent', target_id: agent.id });
      expect(row.data).toMatchObject({ disabled: true, role: 'agent' });
      expect((row.data.changes as string[]).sort()).toEqual(['disabled', 'displayName']);
    });

    it('token-created, with the prefix but not the token', async () => {
      const { agent } = remember(await createAgent(http, t.adminToken));
      const response = await http.post(
        `/v1/agents/${agent.id}/tokens`,
        { name: 'ci' },
        t.adminToken,
      );
      expect(response.status).toBe(201);
      secrets.push(response.body.token);
      const row = await rowFor(response, 'token-created');
      expect(row).toMatchObject({
        agent_id: adminId,
        target_type: 'api_token',
        target_id: response.body.id,
        data: { agentId: agent.id, name: 'ci', prefix: response.body.prefix },
      });
    });

    it('token-revoked', async () => {
      const { agent } = remember(await createAgent(http, t.adminToken));
      const [token] = (await http.get(`/v1/agents/${agent.id}/tokens`, t.adminToken)).body;
      const response = await http.delete(`/v1/tokens/${token.id}`, t.adminToken);
      expect(response.status).toBe(200);
      const row = await rowFor(response, 'token-revoked');
      expect(row).toMatchObject({
        agent_id: adminId,
        target_type: 'api_token',
        target_id: token.id,
        data: { agentId: agent.id, prefix: token.prefix },
      });
    });

    it('jwt-issued, by the agent that exchanged its token, naming the jti', async () => {
      const { agent, apiToken } = remember(await createAgent(http, t.adminToken));
      const response = await http.post('/v1/auth/token', { apiToken });
      expect(response.status).toBe(200);
      secrets.push(response.body.accessToken);
      const jti = JSON.parse(
        Buffer.from(response.body.accessToken.split('.')[1], 'base64url').toString(),
      ).jti;
      const row = await rowFor(response, 'jwt-issued');
      expect(row).toMatchObject({ agent_id: agent.id, target_type: 'jwt', target_id: jti });
    });

    it('auth-failed, with the reason and no actor', async () => {
      const forged = 'ahp_' + 'Z'.repeat(43);
      secrets.push(forged);
      const response = await http.post('/v1/auth/token', { apiToken: forged });
      expect(response.status).toBe(401);
      const row = await rowFor(response, 'auth-failed');
      expect(row.agent_id).toBeNull();
      expect(row.data).toEqual({ method: 'api_token', reason: 'unknown api token' });
    });

    it('keeps a client-supplied X-Request-Id and records it', async () => {
      const response = await http.post('/v1/agents', { name: 'traced-bot' }, t.adminToken, {
        'x-request-id': 'trace-audit-0001',
      });
      expect(response.headers.get('x-request-id')).toBe('trace-audit-0001');
      expect((await rowFor(response, 'agent-created')).target_id).toBe(response.body.id);
    });
  });

  it('never stores an API token or a JWT in any column of any row', async () => {
    for (let i = 0; i < 2; i += 1) remember(await createAgent(http, t.adminToken));
    const { rows } = await db.query<{ row: string }>(
      'SELECT row_to_json(e)::text AS row FROM audit_events e',
    );
    expect(rows.length).toBeGreaterThan(10);
    const everything = rows.map((r) => r.row).join('\n');
    expect(secrets.length).toBeGreaterThan(10);
    for (const secret of secrets) expect(everything).not.toContain(secret);
    expect(everything).not.toMatch(/ahp_[0-9A-Za-z]{43}/);
    expect(everything).not.toMatch(/eyJ[\w-]+\.[\w-]+\.[\w-]+/);
  });

  describe('GET /v1/audit-events', () => {
    let total: number;

    beforeAll(async () => {
      total = Number((await db.query('SELECT count(*) FROM audit_events')).rows[0].count);
    });

    it('lists newest first in the contract shape', async () => {
      const page = await http.get('/v1/audit-events?limit=5', t.adminToken);
      expect(page.status).toBe(200);
      expect(page.body.items).toHaveLength(5);
      const ids = page.body.items.map((e: { id: string }) => Number(e.id));
      expect([...ids].sort((a, b) => b - a)).toEqual(ids);
      expect(Object.keys(page.body.items[0]).sort()).toEqual(
        [
          'agentId',
          'createdAt',
          'data',
          'hash',
          'id',
          'ip',
          'prevHash',
          'requestId',
          'targetId',
          'targetType',
          'type',
        ].sort(),
      );
    });

    it('filters by type', async () => {
      const response = await http.get('/v1/audit-events?type=token-revoked', t.adminToken);
      const expected = await db.query("SELECT id FROM audit_events WHERE type = 'token-revoked'");
      expect(response.body.items.length).toBe(expected.rowCount);
      expect(response.body.items.length).toBeGreaterThan(0);
      for (const event of response.body.items) expect(event.type).toBe('token-revoked');
    });

    it('filters by acting agent', async () => {
      const { agent } = remember(await createAgent(http, t.adminToken));
      const response = await http.get(`/v1/audit-events?agentId=${agent.id}`, t.adminToken);
      expect(response.body.items.map((e: { type: string }) => e.type)).toEqual(['jwt-issued']);
      expect(response.body.items[0].agentId).toBe(agent.id);
    });

    it('filters by time, since inclusive and until exclusive', async () => {
      const { rows } = await db.query<{ id: string; created_at: Date }>(
        'SELECT id::text, created_at FROM audit_events ORDER BY id',
      );
      const pivot = rows[Math.floor(rows.length / 2)];
      const since = pivot.created_at.toISOString();
      const after = await http.get(
        `/v1/audit-events?limit=200&since=${encodeURIComponent(since)}`,
        t.adminToken,
      );
      const before = await http.get(
        `/v1/audit-events?limit=200&until=${encodeURIComponent(since)}`,
        t.adminToken,
      );
      expect(after.status).toBe(200);
      expect(before.status).toBe(200);
      const afterIds = after.body.items.map((e: { id: string }) => e.id);
      const beforeIds = before.body.items.map((e: { id: string }) => e.id);
      expect(afterIds).toContain(pivot.id);
      expect(beforeIds).not.toContain(pivot.id);
      expect(afterIds.length + beforeIds.length).toBe(rows.length);
      for (const e of after.body.items)
        expect(Date.parse(e.createdAt)).toBeGreaterThanOrEqual(pivot.created_at.getTime());
      const empty = await http.get('/v1/audit-events?until=2000-01-01T00:00:00Z', t.adminToken);
      expect(empty.body).toEqual({ items: [], nextCursor: null });
    });

    it('pages through every event exactly once with the cursor', async () => {
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const query: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
        const page = await http.get(`/v1/audit-events?limit=4${query}`, t.adminToken);
        expect(page.status).toBe(200);
        seen.push(...page.body.items.map((e: { id: string }) => e.id));
        cursor = page.body.nextCursor;
        pages += 1;
      } while (cursor && pages < 200);
      expect(cursor).toBeNull();
      expect(seen.length).toBeGreaterThanOrEqual(total);
      expect(new Set(seen).size).toBe(seen.length);
      const numeric = seen.map(Number);
      expect([...numeric].sort((a, b) => b - a)).toEqual(numeric);
    });

    it('combines a filter with the cursor', async () => {
      const all = await http.get('/v1/audit-events?type=agent-created&limit=200', t.adminToken);
      const first = await http.get('/v1/audit-events?type=agent-created&limit=2', t.adminToken);
      const second = await http.get(
        `/v1/audit-events?type=agent-created&limit=2&cursor=${first.body.nextCursor}`,
        t.adminToken,
      );
      const paged = [...first.body.items, ...second.body.items].map((e: { id: string }) => e.id);
      expect(paged).toEqual(all.body.items.slice(0, 4).map((e: { id: string }) => e.id));
    });

    it.each([
      ['an invalid cursor', 'cursor=not-a-cursor'],
      ['a malformed agentId', 'agentId=admin'],
      ['a non-ISO since', 'since=yesterday'],
      ['since after until', 'since=2030-01-02T00:00:00Z&until=2030-01-01T00:00:00Z'],
      ['an unknown parameter', 'order=asc'],
    ])('rejects %s with 400 validation_failed', async (_case, query) => {
      const response = await http.get(`/v1/audit-events?${query}`, t.adminToken);
      expect(response.status).toBe(400);
      expect(response.body.code).toBe('validation_failed');
    });
  });

  describe('the runbook queries, as written', () => {
    it('counts JWTs issued in the last hour', async () => {
      const { rows } = await db.query(
        "SELECT COUNT(*) FROM audit_events WHERE type = 'jwt-issued' AND created_at > NOW() - INTERVAL '1 hour';",
      );
      const exact = await db.query("SELECT id FROM audit_events WHERE type = 'jwt-issued'");
      expect(Number(rows[0].count)).toBe(exact.rowCount);
      expect(Number(rows[0].count)).toBeGreaterThan(0);
    });

    it('groups the last five minutes of events by agent', async () => {
      const { rows } =
        await db.query(`SELECT agent_id, COUNT(*) as events, MIN(created_at) as first, MAX(created_at) as last
FROM audit_events
WHERE created_at > NOW() - INTERVAL '5 minutes'
GROUP BY agent_id
ORDER BY events DESC;`);
      const admin = rows.find((r) => r.agent_id === adminId);
      const expected = await db.query('SELECT id FROM audit_events WHERE agent_id = $1', [adminId]);
      expect(Number(admin.events)).toBe(expected.rowCount);
      expect(admin.first).toBeInstanceOf(Date);
      expect(admin.last.getTime()).toBeGreaterThanOrEqual(admin.first.getTime());
      const counts = rows.map((r) => Number(r.events));
      expect([...counts].sort((a, b) => b - a)).toEqual(counts);
    });
  });

  describe('append-only at the database', () => {
    it.each([
      ['UPDATE', 'UPDATE audit_events SET data = \'{"forged":true}\''],
      ['DELETE', 'DELETE FROM audit_events'],
      ['TRUNCATE', 'TRUNCATE audit_events'],
    ])('refuses %s, even for the superuser', async (_op, sql) => {
      const before = (await db.query('SELECT count(*), max(hash) FROM audit_events')).rows[0];
      await expect(db.query(sql)).rejects.toThrow(/audit_events is append-only/);
      expect((await db.query('SELECT count(*), max(hash) FROM audit_events')).rows[0]).toEqual(
        before,
      );
    });

    it('computes id and hashes itself, ignoring values an inserter supplies', async () => {
      const { rows } = await db.query(
        `INSERT INTO audit_events (id, type, data, prev_hash, hash)
         VALUES (1, 'agent-updated', '{}', 'forged', 'forged') RETURNING id::text, prev_hash, hash`,
      );
      expect(rows[0].id).not.toBe('1');
      expect(rows[0].hash).toMatch(/^[0-9a-f]{64}$/);
      expect(rows[0].prev_hash).toMatch(/^[0-9a-f]{64}$/);
    });
  });

  describe('audit:verify', () => {
    it('reports an intact chain with the number of events checked', async () => {
      const count = Number((await db.query('SELECT count(*) FROM audit_events')).rows[0].count);
      expect(await runAuditVerify(t.databaseUrl)).toEqual({
        code: 0,
        output: `audit chain intact: ${count} events checked`,
      });
    });

    it(
      'runs as the npm command: exit 0 and the same report',
      async () => {
        const count = Number((await db.query('SELECT count(*) FROM audit_events')).rows[0].count);
        const result = await runCli('src/cli/audit-verify.ts', { DATABASE_URL: t.databaseUrl });
        expect(result.stdout.trim()).toBe(`audit chain intact: ${count} events checked`);
        expect(result.code).toBe(0);
      },
      PROCESS_TEST_TIMEOUT_MS,
    );

    it('exits 2 with a clear message when the database cannot be reached', async () => {
      const result = await runAuditVerify('postgres://postgres@127.0.0.1:1/agenthub_test');
      expect(result.code).toBe(2);
      expect(result.output).toMatch(/^cannot connect to the database: .*ECONNREFUSED/);
    });

    describe('on a tampered copy', () => {
      let copy: { url: string; drop: () => Promise<void> };
      let tamper: Client;
      let ids: string[];

      beforeEach(async () => {
        copy = await createTestDatabase();
        tamper = new Client({ connectionString: copy.url });
        await tamper.connect();
        for (let i = 0; i < 6; i += 1) {
          await tamper.query(`INSERT INTO audit_events (type, data) VALUES ('agent-updated', $1)`, [
            { n: i },
          ]);
        }
        ids = (await tamper.query('SELECT id::text FROM audit_events ORDER BY id')).rows.map(
          (r) => r.id,
        );
        // As superuser, replica mode skips the append-only triggers: what an attacker would do.
        await tamper.query('SET session_replication_role = replica');
      });
      afterEach(async () => {
        await tamper.end();
        await copy.drop();
      });

      it('is intact before tampering', async () => {
        expect(await runAuditVerify(copy.url)).toEqual({
          code: 0,
          output: 'audit chain intact: 6 events checked',
        });
      });

      it(
        'reports the first row whose content was edited',
        async () => {
          await tamper.query(`UPDATE audit_events SET data = '{"n": 99}' WHERE id = $1`, [ids[4]]);
          await tamper.query(`UPDATE audit_events SET data = '{"n": 42}' WHERE id = $1`, [ids[2]]);
          expect(await runAuditVerify(copy.url)).toEqual({
            code: 1,
            output: `audit chain broken at event id ${ids[2]} (hash mismatch)`,
          });
          const cli = await runCli('src/cli/audit-verify.ts', { DATABASE_URL: copy.url });
          expect(cli.code).toBe(1);
          expect(cli.stdout.trim()).toBe(
            `audit chain broken at event id ${ids[2]} (hash mismatch)`,
          );
        },
        PROCESS_TEST_TIMEOUT_MS,
      );

      it('reports the row after a deleted one', async () => {
        await tamper.query('DELETE FROM audit_events WHERE id = $1', [ids[3]]);
        expect(await runAuditVerify(copy.url)).toEqual({
          code: 1,
          output: `audit chain broken at event id ${ids[4]} (prev_hash mismatch)`,
        });
      });

      it('detects a row re-hashed to hide an edit, at the row after it', async () => {
        await tamper.query(`UPDATE audit_events e SET data = '{"n": 7}' WHERE id = $1`, [ids[1]]);
        await tamper.query(
          `UPDATE audit_events e SET hash = audit_event_digest(e.prev_hash, e) WHERE id = $1`,
          [ids[1]],
        );
        expect(await runAuditVerify(copy.url)).toEqual({
          code: 1,
          output: `audit chain broken at event id ${ids[2]} (prev_hash mismatch)`,
        });
      });
    });
  });
});
