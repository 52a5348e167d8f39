import { createAgent, exchange, TestAgent } from '../factories/agents';
import { Http } from '../support/http';
import { craftJwt, decodeJwt } from '../support/jwt';
import { closeAllSockets, connectError, connectSocket, nextEvent } from '../support/sockets';
import { bootTestApp, TestApp, TEST_JWT_SECRET } from '../support/test-app';

/** Pen-test checklist: "JWT Tampering: Modify JWT payload, re-sign with weak secret, submit". */
describe('pen-test: JWT tampering, rotation and revocation', () => {
  let t: TestApp;
  let http: Http;
  let agent: TestAgent;
  let claims: Record<string, unknown>;

  beforeAll(async () => {
    t = await bootTestApp();
    http = new Http(t.url);
    agent = await createAgent(http, t.adminToken);
    claims = decodeJwt(agent.jwt).payload;
  });
  afterEach(() => closeAllSockets());
  afterAll(() => t.close());

  const signed = (extra: Record<string, unknown>, options: Parameters<typeof craftJwt>[1] = {}) =>
    craftJwt({ ...claims, ...extra }, { secret: TEST_JWT_SECRET, ...options });

  const tampered: Array<[string, () => string]> = [
    ['alg none', () => signed({}, { alg: 'none' })],
    [
      'an edited payload (role: admin) with the original signature',
      () => {
        const [header, , signature] = agent.jwt.split('.');
        return `${header}.${Buffer.from(JSON.stringify({ ...claims, role: 'admin' })).toString('base64url')}.${signature}`;
      },
    ],
    [
      'a payload re-signed with a weak secret',
      () =>
        craftJwt(
          { ...claims, role: 'admin' },
          { secret: 'secret', kid: decodeJwt(agent.jwt).header.kid },
        ),
    ],
    ['HS512 with the right secret', () => signed({}, { alg: 'HS512' })],
    ['an expired token', () => signed({ iat: 1_000, exp: 2_000 })],
    [
      'no exp',
      () => {
        const { exp: _exp, ...rest } = claims;
        return craftJwt(rest, { secret: TEST_JWT_SECRET });
      },
    ],
    ['a wrong aud', () => signed({ aud: 'another-service' })],
    ['a wrong iss', () => signed({ iss: 'evil' })],
    ['no kid', () => signed({}, { kid: null })],
    ['a kid that is a path', () => signed({}, { kid: '../../etc/passwd' })],
    ['a kid that names no key', () => signed({}, { kid: 'AAAAAAAAAAAAAAAA' })],
    [
      'a sub of another, unknown agent',
      () => signed({ sub: '00000000-0000-7000-8000-000000000000' }),
    ],
    ['a non-uuid jti', () => signed({ jti: "' OR '1'='1" })],
    ['garbage', () => 'a.b.c'],
  ];

  it('accepts the untampered token', async () => {
    expect((await http.get('/v1/me', agent.jwt)).status).toBe(200);
  });

  it.each(tampered)(
    'rejects %s over REST (401) and on the socket.io handshake',
    async (_name, make) => {
      const token = make();
      const response = await http.get('/v1/me', token);
      expect(response.status).toBe(401);
      expect(response.body).toMatchObject({ code: 'unauthorized' });
      expect((await connectError(t.url, token)).data).toMatchObject({ code: 'unauthorized' });
    },
  );

  it('records each rejection as an auth-failed audit row with the reason, never the token', async () => {
    const before = (await http.get('/v1/audit-events?type=auth-failed&limit=200', t.adminToken))
      .body.items.length;
    const token = signed({}, { alg: 'HS512' });
    await http.get('/v1/me', token);
    const rows = (await http.get('/v1/audit-events?type=auth-failed&limit=200', t.adminToken)).body
      .items;
    expect(rows.length).toBe(before + 1);
    expect(rows[0].data).toMatchObject({ method: 'jwt', reason: expect.stringContaining('HS512') });
    expect(JSON.stringify(rows)).not.toContain(token);
  });

  it('revoke-sessions rejects every JWT of the agent and cuts its live socket, API token still usable', async () => {
    const victim = await createAgent(http, t.adminToken);
    const socket = await connectSocket(t.url, victim.jwt);
    const cut = nextEvent(socket, 'disconnect', 5000);
    const revoked = await http.post(
      `/v1/agents/${victim.agent.id}/revoke-sessions`,
      {},
      t.adminToken,
    );
    expect(revoked.status).toBe(204);
    expect(await cut).toBe('io server disconnect');
    expect((await http.get('/v1/me', victim.jwt)).status).toBe(401);
    const fresh = await exchange(http, victim.apiToken);
    expect((await http.get('/v1/me', fresh)).status).toBe(200);
    expect(
      (await http.post(`/v1/agents/${victim.agent.id}/revoke-sessions`, {}, fresh)).status,
    ).toBe(403);
    const events = await http.get(
      `/v1/audit-events?type=sessions-revoked&agentId=${(await http.get('/v1/me', t.adminToken)).body.id}`,
      t.adminToken,
    );
    expect(events.body.items[0]).toMatchObject({ targetType: 'agent', targetId: victim.agent.id });
  });

  it('rotates keys by configuration: the old key verifies while JWT_SECRET_OLD is set, not after', async () => {
    const oldSecret = TEST_JWT_SECRET;
    const newSecret = 'rotated-secret-ABCDEFGHIJKLMNOPQRSTUVWXYZ-0123456789';
    const db = { url: t.databaseUrl };
    const signedWithOld = agent.jwt;

    const rotating = await bootTestApp({ JWT_SECRET: newSecret, JWT_SECRET_OLD: oldSecret }, db);
    try {
      const during = new Http(rotating.url);
      expect((await during.get('/v1/me', signedWithOld)).status).toBe(200);
      const signedWithNew = await exchange(during, agent.apiToken);
      expect(decodeJwt(signedWithNew).header.kid).not.toBe(decodeJwt(signedWithOld).header.kid);
      expect((await during.get('/v1/me', signedWithNew)).status).toBe(200);

      const rotated = await bootTestApp({ JWT_SECRET: newSecret }, db);
      try {
        const after = new Http(rotated.url);
        expect((await after.get('/v1/me', signedWithOld)).status).toBe(401);
        expect((await after.get('/v1/me', signedWithNew)).status).toBe(200);
        expect((await connectError(rotated.url, signedWithOld)).data).toMatchObject({
          code: 'unauthorized',
        });
      } finally {
        await rotated.close();
      }
    } finally {
      await rotating.close();
    }
  });
});
