import { Client } from 'pg';
import { SessionsRepository } from '../../src/auth/sessions.repository';
import { createAgent, exchange } from '../factories/agents';
import { Http } from '../support/http';
import { decodeJwt } from '../support/jwt';
import { bootTestApp, TestApp } from '../support/test-app';

describe('auth: API tokens and JWTs', () => {
  let t: TestApp;
  let http: Http;

  beforeAll(async () => {
    t = await bootTestApp();
    http = new Http(t.url);
  });
  afterAll(() => t.close());

  it('exchanges an API token for a 15-minute HS256 JWT with kid, iss, aud, jti and sub', async () => {
    const { agent, apiToken } = await createAgent(http, t.adminToken);
    const response = await http.post('/v1/auth/token', { apiToken });
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ tokenType: 'Bearer', expiresIn: 900 });
    const { header, payload } = decodeJwt(response.body.accessToken);
    expect(header).toMatchObject({ alg: 'HS256', typ: 'JWT' });
    expect(typeof header.kid).toBe('string');
    expect(payload).toMatchObject({
      iss: 'agenthub',
      aud: 'agenthub',
      sub: agent.id,
      role: 'agent',
    });
    expect(payload.exp - payload.iat).toBe(900);
    expect(payload.jti).toMatch(/^[0-9a-f-]{36}$/);
    const me = await http.get('/v1/me', response.body.accessToken);
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ id: agent.id, name: agent.name, auth: { method: 'jwt' } });
  });

  it('accepts an API token directly as a bearer credential for scripts', async () => {
    const { agent, apiToken } = await createAgent(http, t.adminToken);
    const me = await http.get('/v1/me', apiToken);
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ id: agent.id, auth: { method: 'api_token', expiresAt: null } });
  });

  it('shows an API token once: listings carry only its prefix', async () => {
    const { agent, apiToken } = await createAgent(http, t.adminToken);
    const list = await http.get(`/v1/agents/${agent.id}/tokens`, t.adminToken);
    expect(list.status).toBe(200);
    expect(list.body).toHaveLength(1);
    expect(list.body[0].token).toBeUndefined();
    expect(apiToken.startsWith(list.body[0].prefix)).toBe(true);
    expect(JSON.stringify(list.body)).not.toContain(apiToken);
    expect(apiToken).toMatch(/^ahp_[0-9A-Za-z]{43}$/);
  });

  it('rejects unknown and malformed API tokens with 401 unauthorized', async () => {
    for (const apiToken of ['ahp_' + 'a'.repeat(43), 'nope', '']) {
      const response = await http.post('/v1/auth/token', { apiToken });
      expect(response.status).toBe(401);
      expect(response.body).toMatchObject({ statusCode: 401, code: 'unauthorized' });
    }
  });

  it('rejects a revoked API token and the JWTs issued from it', async () => {
    const { apiToken, jwt, agent } = await createAgent(http, t.adminToken);
    const [token] = (await http.get(`/v1/agents/${agent.id}/tokens`, t.adminToken)).body;
    const revoked = await http.delete(`/v1/tokens/${token.id}`, t.adminToken);
    expect(revoked.status).toBe(200);
    expect(revoked.body.revokedAt).not.toBeNull();
    expect((await http.post('/v1/auth/token', { apiToken })).status).toBe(401);
    expect((await http.get('/v1/me', apiToken)).status).toBe(401);
    expect((await http.get('/v1/me', jwt)).status).toBe(401);
  });

  it('rejects a JWT after logout revokes its jti', async () => {
    const { apiToken, jwt } = await createAgent(http, t.adminToken);
    expect((await http.post('/v1/auth/logout', {}, jwt)).status).toBe(204);
    expect((await http.get('/v1/me', jwt)).status).toBe(401);
    const fresh = await exchange(http, apiToken);
    expect((await http.get('/v1/me', fresh)).status).toBe(200);
  });

  it('rejects every credential of a disabled agent, and accepts them again once re-enabled', async () => {
    const { agent, apiToken, jwt } = await createAgent(http, t.adminToken);
    expect(
      (await http.patch(`/v1/agents/${agent.id}`, { disabled: true }, t.adminToken)).status,
    ).toBe(200);
    expect((await http.get('/v1/me', jwt)).status).toBe(401);
    expect((await http.get('/v1/me', apiToken)).status).toBe(401);
    expect((await http.post('/v1/auth/token', { apiToken })).status).toBe(401);
    expect(
      (await http.patch(`/v1/agents/${agent.id}`, { disabled: false }, t.adminToken)).status,
    ).toBe(200);
    expect((await http.get('/v1/me', jwt)).status).toBe(200);
  });

  it('rejects an expired API token', async () => {
    const { agent } = await createAgent(http, t.adminToken);
    const soon = new Date(Date.now() + 1500).toISOString();
    const created = await http.post(
      `/v1/agents/${agent.id}/tokens`,
      { name: 'short', expiresAt: soon },
      t.adminToken,
    );
    expect(created.status).toBe(201);
    expect((await http.get('/v1/me', created.body.token)).status).toBe(200);
    await new Promise((done) => setTimeout(done, 1700));
    expect((await http.get('/v1/me', created.body.token)).status).toBe(401);
  });

  it('requires a bearer credential on every non-public route', async () => {
    for (const path of ['/v1/me', '/v1/agents', '/v1/audit-events']) {
      const response = await http.get(path);
      expect(response.status).toBe(401);
      expect(response.body).toEqual({
        statusCode: 401,
        code: 'unauthorized',
        message: expect.any(String),
      });
    }
  });

  it('prunes revocations of JWTs that have expired anyway', async () => {
    const { agent, jwt } = await createAgent(http, t.adminToken);
    await http.post('/v1/auth/logout', {}, jwt);
    const db = new Client({ connectionString: t.databaseUrl });
    await db.connect();
    try {
      await db.query(
        `INSERT INTO jwt_revocations (jti, agent_id, expires_at) VALUES ($1, $2, now() - interval '1 hour')`,
        ['00000000-0000-7000-8000-00000000dead', agent.id],
      );
      const removed = await t.app.get(SessionsRepository).pruneExpired();
      expect(removed).toBe(1);
      const left = await db.query(
        'SELECT count(*)::int AS n FROM jwt_revocations WHERE agent_id = $1',
        [agent.id],
      );
      expect(left.rows[0].n).toBe(1);
    } finally {
      await db.end();
    }
  });
});
