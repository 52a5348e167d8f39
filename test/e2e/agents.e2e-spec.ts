import { createAgent, TestAgent } from '../factories/agents';
import { Http } from '../support/http';
import { bootTestApp, TestApp } from '../support/test-app';

const UNKNOWN_ID = '01900000-0000-7000-8000-000000000000';

describe('agents admin API', () => {
  let t: TestApp;
  let http: Http;
  let adminId: string;

  beforeAll(async () => {
    t = await bootTestApp();
    http = new Http(t.url);
    adminId = (await http.get('/v1/me', t.adminToken)).body.id;
  });
  afterAll(() => t.close());

  const agentNames = async (): Promise<string[]> => {
    const names: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor ? `?limit=200&cursor=${cursor}` : '?limit=200';
      const page = await http.get(`/v1/agents${query}`, t.adminToken);
      names.push(...page.body.items.map((a: { name: string }) => a.name));
      cursor = page.body.nextCursor;
    } while (cursor);
    return names;
  };

  describe('for a non-admin agent', () => {
    let agent: TestAgent;
    let other: TestAgent;
    let otherTokenId: string;

    beforeAll(async () => {
      agent = await createAgent(http, t.adminToken);
      other = await createAgent(http, t.adminToken);
      otherTokenId = (await http.get(`/v1/agents/${other.agent.id}/tokens`, t.adminToken)).body[0]
        .id;
    });

    const routes = (): Array<[string, string, unknown]> => [
      ['GET', '/v1/agents', undefined],
      ['POST', '/v1/agents', { name: 'sneaky-admin', role: 'admin' }],
      ['GET', `/v1/agents/${other.agent.id}`, undefined],
      ['PATCH', `/v1/agents/${agent.agent.id}`, { role: 'admin' }],
      ['POST', `/v1/agents/${agent.agent.id}/tokens`, { name: 'mine' }],
      ['GET', `/v1/agents/${other.agent.id}/tokens`, undefined],
      ['DELETE', `/v1/tokens/${otherTokenId}`, undefined],
      ['GET', '/v1/audit-events', undefined],
    ];

    it('answers every admin route with 403 forbidden, with a JWT or an API token', async () => {
      for (const credential of [agent.jwt, agent.apiToken]) {
        for (const [method, path, body] of routes()) {
          const response = await http.request(method, path, { token: credential, body });
          expect({ method, path, status: response.status }).toEqual({ method, path, status: 403 });
          expect(response.body).toEqual({
            statusCode: 403,
            code: 'forbidden',
            message: expect.any(String),
          });
        }
      }
    });

    it('changes nothing when refused', async () => {
      expect(await agentNames()).not.toContain('sneaky-admin');
      const self = await http.get(`/v1/agents/${agent.agent.id}`, t.adminToken);
      expect(self.body.role).toBe('agent');
      const tokens = await http.get(`/v1/agents/${agent.agent.id}/tokens`, t.adminToken);
      expect(tokens.body).toHaveLength(1);
      const otherTokens = await http.get(`/v1/agents/${other.agent.id}/tokens`, t.adminToken);
      expect(otherTokens.body[0].revokedAt).toBeNull();
      expect((await http.get('/v1/me', other.apiToken)).status).toBe(200);
    });

    it('still lets the agent read itself through /v1/me', async () => {
      const me = await http.get('/v1/me', agent.jwt);
      expect(me.status).toBe(200);
      expect(me.body).toMatchObject({ id: agent.agent.id, role: 'agent' });
    });
  });

  describe('validation', () => {
    const expectInvalid = (response: { status: number; body: any }, field: string): void => {
      expect(response.status).toBe(400);
      expect(response.body).toMatchObject({ statusCode: 400, code: 'validation_failed' });
      expect(response.body.details).toEqual(
        expect.arrayContaining([expect.objectContaining({ field })]),
      );
    };

    it('rejects unknown body fields, naming them', async () => {
      const { agent } = await createAgent(http, t.adminToken);
      expectInvalid(
        await http.post('/v1/agents', { name: 'valid-name', superuser: true }, t.adminToken),
        'superuser',
      );
      expectInvalid(
        await http.patch(`/v1/agents/${agent.id}`, { name: 'renamed' }, t.adminToken),
        'name',
      );
      expectInvalid(
        await http.post(`/v1/agents/${agent.id}/tokens`, { name: 'x', scope: 'all' }, t.adminToken),
        'scope',
      );
      expect(await agentNames()).not.toContain('valid-name');
    });

    it('rejects unknown query parameters', async () => {
      expectInvalid(await http.get('/v1/agents?role=admin', t.adminToken), 'role');
    });

    it.each([
      ['upper case', 'Summarizer'],
      ['a space', 'my bot'],
      ['a leading dash', '-bot'],
      ['a single character', 'a'],
      ['64 characters', 'a'.repeat(64)],
      ['a slash', 'bots/one'],
    ])('rejects a name with %s', async (_case, name) => {
      expectInvalid(await http.post('/v1/agents', { name }, t.adminToken), 'name');
    });

    it('accepts names at the edges of the pattern', async () => {
      for (const name of ['ab', `z${'9'.repeat(62)}`, '0.bot_v2-x']) {
        expect((await http.post('/v1/agents', { name }, t.adminToken)).status).toBe(201);
      }
    });

    it('rejects metadata over 4 KiB on create and on update', async () => {
      const big = { blob: 'x'.repeat(4100) };
      expectInvalid(
        await http.post('/v1/agents', { name: 'big-meta', metadata: big }, t.adminToken),
        'metadata',
      );
      const { agent } = await createAgent(http, t.adminToken);
      expectInvalid(
        await http.patch(`/v1/agents/${agent.id}`, { metadata: big }, t.adminToken),
        'metadata',
      );
    });

    it('accepts metadata of exactly 4096 bytes of JSON', async () => {
      // JSON.stringify({b: ''}) is 8 bytes: this object serialises to exactly 4096.
      const metadata = { b: 'x'.repeat(4088) };
      expect(Buffer.byteLength(JSON.stringify(metadata))).toBe(4096);
      const created = await http.post('/v1/agents', { name: 'edge-meta', metadata }, t.adminToken);
      expect(created.status).toBe(201);
      expect(created.body.metadata).toEqual(metadata);
    });

    it('never answers 500 for small metadata whose numbers PostgreSQL spells out in full', async () => {
      // 1e300 is 6 bytes of JSON but 301 characters in jsonb's text form.
      const metadata = Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`k${i}`, 1e300]));
      expect(Buffer.byteLength(JSON.stringify(metadata))).toBeLessThan(1024);
      const response = await http.post(
        '/v1/agents',
        { name: 'big-numbers', metadata },
        t.adminToken,
      );
      expect([201, 400]).toContain(response.status);
    });

    it.each([
      ['an array', ['a', 'b']],
      ['a string', 'text'],
      ['a number', 42],
    ])('rejects metadata that is %s', async (_case, metadata) => {
      expectInvalid(
        await http.post('/v1/agents', { name: 'bad-meta', metadata }, t.adminToken),
        'metadata',
      );
    });

    it('rejects an unknown role and a non-boolean disabled flag', async () => {
      const { agent } = await createAgent(http, t.adminToken);
      expectInvalid(
        await http.post('/v1/agents', { name: 'root-bot', role: 'root' }, t.adminToken),
        'role',
      );
      expectInvalid(
        await http.patch(`/v1/agents/${agent.id}`, { disabled: 'yes' }, t.adminToken),
        'disabled',
      );
    });

    it('rejects a token expiry in the past', async () => {
      const { agent } = await createAgent(http, t.adminToken);
      const response = await http.post(
        `/v1/agents/${agent.id}/tokens`,
        { name: 'stale', expiresAt: '2001-01-01T00:00:00Z' },
        t.adminToken,
      );
      expectInvalid(response, 'expiresAt');
    });
  });

  it('answers a duplicate name with 409 conflict', async () => {
    const { agent } = await createAgent(http, t.adminToken);
    const response = await http.post('/v1/agents', { name: agent.name }, t.adminToken);
    expect(response.status).toBe(409);
    expect(response.body).toMatchObject({ statusCode: 409, code: 'conflict' });
    expect(response.body.message).toContain(agent.name);
  });

  it('answers an unknown agent id with 404 not_found on every agent route', async () => {
    for (const id of [UNKNOWN_ID, 'not-a-uuid']) {
      const responses = [
        await http.get(`/v1/agents/${id}`, t.adminToken),
        await http.patch(`/v1/agents/${id}`, { displayName: 'Ghost' }, t.adminToken),
        await http.get(`/v1/agents/${id}/tokens`, t.adminToken),
        await http.post(`/v1/agents/${id}/tokens`, { name: 'ghost' }, t.adminToken),
      ];
      for (const response of responses) {
        expect(response.status).toBe(404);
        expect(response.body).toMatchObject({ statusCode: 404, code: 'not_found' });
      }
    }
  });

  it('answers an unknown token id with 404 not_found', async () => {
    for (const id of [UNKNOWN_ID, 'not-a-uuid']) {
      const response = await http.delete(`/v1/tokens/${id}`, t.adminToken);
      expect(response.status).toBe(404);
      expect(response.body).toMatchObject({ code: 'not_found' });
    }
  });

  it('revokes a token idempotently', async () => {
    const { agent } = await createAgent(http, t.adminToken);
    const [token] = (await http.get(`/v1/agents/${agent.id}/tokens`, t.adminToken)).body;
    const first = await http.delete(`/v1/tokens/${token.id}`, t.adminToken);
    const second = await http.delete(`/v1/tokens/${token.id}`, t.adminToken);
    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    expect(second.body.revokedAt).toBe(first.body.revokedAt);
  });

  it('updates display name, metadata and role, and returns the new state', async () => {
    const { agent } = await createAgent(http, t.adminToken);
    const response = await http.patch(
      `/v1/agents/${agent.id}`,
      { displayName: 'Summarizer', metadata: { model: 'x' }, role: 'admin' },
      t.adminToken,
    );
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({
      id: agent.id,
      displayName: 'Summarizer',
      metadata: { model: 'x' },
      role: 'admin',
    });
    expect((await http.get(`/v1/agents/${agent.id}`, t.adminToken)).body).toEqual(response.body);
  });

  it('refuses to let an admin disable or demote itself with 409 conflict', async () => {
    for (const patch of [{ disabled: true }, { role: 'agent' }]) {
      const response = await http.patch(`/v1/agents/${adminId}`, patch, t.adminToken);
      expect(response.status).toBe(409);
      expect(response.body).toMatchObject({ code: 'conflict' });
    }
    const admin = await http.get(`/v1/agents/${adminId}`, t.adminToken);
    expect(admin.body).toMatchObject({ role: 'admin', disabled: false });
    expect((await http.get('/v1/me', t.adminToken)).status).toBe(200);
  });

  it('lets one admin disable another', async () => {
    const second = await createAgent(http, t.adminToken, { role: 'admin' });
    const response = await http.patch(`/v1/agents/${adminId}`, { disabled: false }, second.jwt);
    expect(response.status).toBe(200);
    const disabled = await http.patch(
      `/v1/agents/${second.agent.id}`,
      { disabled: true },
      t.adminToken,
    );
    expect(disabled.status).toBe(200);
    expect((await http.get('/v1/me', second.jwt)).status).toBe(401);
  });

  describe('list pagination', () => {
    it('walks every agent exactly once, in creation order, ending with a null cursor', async () => {
      for (let i = 0; i < 7; i += 1) await createAgent(http, t.adminToken);
      const all = await http.get('/v1/agents?limit=200', t.adminToken);
      expect(all.body.nextCursor).toBeNull();
      const total = all.body.items.length;
      expect(total).toBeGreaterThan(7);

      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const query: string = cursor ? `?limit=3&cursor=${encodeURIComponent(cursor)}` : '?limit=3';
        const page = await http.get(`/v1/agents${query}`, t.adminToken);
        expect(page.status).toBe(200);
        expect(page.body.items.length).toBeLessThanOrEqual(3);
        seen.push(...page.body.items.map((a: { id: string }) => a.id));
        cursor = page.body.nextCursor;
        pages += 1;
      } while (cursor && pages < 100);

      expect(cursor).toBeNull();
      expect(pages).toBe(Math.ceil(total / 3));
      expect(new Set(seen).size).toBe(seen.length);
      expect(seen).toEqual(all.body.items.map((a: { id: string }) => a.id));
      expect(seen[0]).toBe(adminId);
      expect([...seen].sort()).toEqual(seen);
    });

    it('uses a default page size of 50', async () => {
      const page = await http.get('/v1/agents', t.adminToken);
      expect(page.status).toBe(200);
      expect(page.body.items.length).toBeLessThanOrEqual(50);
      expect(Object.keys(page.body).sort()).toEqual(['items', 'nextCursor']);
    });

    it.each([
      ['a cursor that is not one of ours', 'cursor=garbage'],
      ['a cursor holding SQL', `cursor=${Buffer.from("' OR 1=1 --").toString('base64url')}`],
      ['limit=0', 'limit=0'],
      ['limit=201', 'limit=201'],
      ['a non-numeric limit', 'limit=ten'],
    ])('rejects %s with 400 validation_failed', async (_case, query) => {
      const response = await http.get(`/v1/agents?${query}`, t.adminToken);
      expect(response.status).toBe(400);
      expect(response.body).toMatchObject({ code: 'validation_failed' });
    });
  });
});
