import { createAgent } from '../factories/agents';
import { Http } from '../support/http';
import { bootTestApp, TestApp } from '../support/test-app';

describe('input handling: body cap, prototype pollution, nested DTOs', () => {
  let t: TestApp;
  let http: Http;

  beforeAll(async () => {
    t = await bootTestApp({ BODY_LIMIT: '4096' });
    http = new Http(t.url);
  });
  afterAll(() => t.close());

  const raw = (path: string, body: string, token = t.adminToken, method = 'POST') =>
    http.request(method, path, {
      token,
      raw: body,
      headers: { 'content-type': 'application/json' },
    });

  it('answers a body over BODY_LIMIT with 413 payload_too_large, headers included', async () => {
    const response = await raw(
      '/v1/agents',
      JSON.stringify({ name: 'big', metadata: { blob: 'x'.repeat(8000) } }),
    );
    expect(response.status).toBe(413);
    expect(response.body).toMatchObject({ statusCode: 413, code: 'payload_too_large' });
    expect(response.headers.get('x-frame-options')).toBe('DENY');
    expect((await http.get('/healthz')).status).toBe(200);
  });

  it.each([
    ['__proto__ at the top', '{"name":"proto-a","__proto__":{"role":"admin"}}'],
    ['constructor.prototype', '{"name":"proto-b","constructor":{"prototype":{"role":"admin"}}}'],
    [
      '__proto__ nested in metadata',
      '{"name":"proto-c","metadata":{"a":{"__proto__":{"polluted":1}}}}',
    ],
  ])('rejects %s with 400 validation_failed and creates nothing', async (_name, body) => {
    const response = await raw('/v1/agents', body);
    expect(response.status).toBe(400);
    expect(response.body.code).toBe('validation_failed');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const agents = await http.get('/v1/agents?limit=200', t.adminToken);
    expect(agents.body.items.map((a: any) => a.name)).not.toEqual(
      expect.arrayContaining(['proto-a', 'proto-b', 'proto-c']),
    );
  });

  it('rejects a JSON array, a bare string and malformed JSON as a body', async () => {
    for (const body of ['[{"name":"arr"}]', '"just text"', '{"name":']) {
      const response = await raw('/v1/agents', body);
      expect(response.status).toBe(400);
      expect(response.body.code).toBe('validation_failed');
    }
  });

  it('validates nested objects field by field', async () => {
    const { agent } = await createAgent(http, t.adminToken);
    const wrongType = await http.patch(
      `/v1/agents/${agent.id}`,
      { rateLimits: { restPerMinute: 'fast' } },
      t.adminToken,
    );
    expect(wrongType.status).toBe(400);
    expect(wrongType.body.details).toContainEqual(
      expect.objectContaining({ field: 'rateLimits.restPerMinute' }),
    );
    const unknown = await http.patch(
      `/v1/agents/${agent.id}`,
      { rateLimits: { burst: 5 } },
      t.adminToken,
    );
    expect(unknown.status).toBe(400);
    expect(unknown.body.details).toContainEqual(
      expect.objectContaining({ field: 'rateLimits.burst' }),
    );
    const cleared = await http.patch(`/v1/agents/${agent.id}`, { rateLimits: null }, t.adminToken);
    expect(cleared.status).toBe(200);
    expect(cleared.body.rateLimits).toBeNull();
  });
});

/** With REDIS_URL (CI), every node shares the counters. Without Redis there is nothing to share. */
const redisUrl = process.env.REDIS_URL;
(redisUrl ? describe : describe.skip)('rate limits shared through Redis by two nodes', () => {
  it('counts requests to either node against one limit', async () => {
    const env = {
      REDIS_URL: redisUrl!,
      REDIS_KEY_PREFIX: `test-${process.pid}-${Date.now()}:`,
      RATE_LIMIT_REST_ANON: '10',
    };
    const a = await bootTestApp(env);
    const b = await bootTestApp(env, { url: a.databaseUrl });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 8; i += 1) {
        statuses.push((await new Http(a.url).get('/v1/me')).status);
        statuses.push((await new Http(b.url).get('/v1/me')).status);
      }
      expect(statuses.slice(0, 10).every((s) => s === 401)).toBe(true);
      expect(statuses.slice(10)).toEqual([429, 429, 429, 429, 429, 429]);
    } finally {
      await b.close();
      await a.close();
    }
  });
});
