import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { EmbeddedPostgres } from '../../src/database/embedded-postgres';
import { freePort } from '../../src/common/free-port';
import { Http, HttpResult } from '../support/http';
import { bootTestApp, TestApp } from '../support/test-app';

/** Polls `probe` until it returns true or `timeoutMs` passes; returns the elapsed time. */
async function waitFor(probe: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (!(await probe())) {
    if (Date.now() - started > timeoutMs) throw new Error(`condition not met in ${timeoutMs} ms`);
    await new Promise((done) => setTimeout(done, 200));
  }
  return Date.now() - started;
}

describe('operations: probes, metrics, headers, CORS, docs', () => {
  let t: TestApp;
  let http: Http;

  beforeAll(async () => {
    t = await bootTestApp();
    http = new Http(t.url);
  });
  afterAll(() => t.close());

  it('/healthz answers 200 without credentials', async () => {
    const response = await http.get('/healthz');
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ status: 'ok' });
  });

  it('/readyz answers 200 with the database up', async () => {
    const response = await http.get('/readyz');
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ status: 'ok', checks: { database: 'up' } });
  });

  describe('/metrics', () => {
    let text: string;
    let response: HttpResult<string>;

    beforeAll(async () => {
      response = await http.get<string>('/metrics');
      text = response.body;
    });

    it('serves Prometheus text without credentials', () => {
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
      expect(typeof text).toBe('string');
    });

    it('has the runbook metrics with their types', () => {
      expect(text).toContain('# TYPE ws_connections gauge');
      expect(text).toContain('# TYPE messages_sent_total counter');
      expect(text).toContain('# TYPE message_send_latency summary');
      expect(text).toContain('# TYPE message_send_latency_seconds histogram');
      expect(text).toContain('# TYPE rate_limit_hits_total counter');
    });

    it('exposes the p99 quantile the runbook alert queries, and histogram buckets', () => {
      expect(text).toMatch(/^message_send_latency\{quantile="0\.99"\} \S+$/m);
      expect(text).toMatch(/^message_send_latency\{quantile="0\.5"\} \S+$/m);
      expect(text).toMatch(/^message_send_latency_seconds_bucket\{le="0\.1"\} \d+$/m);
      expect(text).toMatch(/^message_send_latency_seconds_bucket\{le="\+Inf"\} \d+$/m);
    });

    it('includes the default process metrics', () => {
      expect(text).toMatch(/^process_cpu_user_seconds_total \d/m);
      expect(text).toMatch(/^nodejs_heap_size_used_bytes \d/m);
    });
  });

  describe('security headers', () => {
    const cases: Array<[string, string, number]> = [
      ['a 200', '/healthz', 200],
      ['a 401', '/v1/me', 401],
      ['a 404', '/no/such/route', 404],
    ];

    it.each(cases)('are on %s response', async (_case, path, status) => {
      const response = await http.get(path);
      expect(response.status).toBe(status);
      const csp = response.headers.get('content-security-policy') ?? '';
      const directives = csp.split(';').map((d) => d.trim());
      expect(directives).toEqual(
        expect.arrayContaining([
          "default-src 'self'",
          "frame-ancestors 'none'",
          "object-src 'none'",
          "base-uri 'none'",
        ]),
      );
      expect(csp).not.toContain('upgrade-insecure-requests');
      expect(response.headers.get('x-frame-options')).toBe('DENY');
      expect(response.headers.get('referrer-policy')).toBe('strict-origin');
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('strict-transport-security')).toBeNull();
    });

    describe('with ENABLE_HSTS=true', () => {
      let hsts: TestApp;

      beforeAll(async () => {
        hsts = await bootTestApp({ ENABLE_HSTS: 'true' });
      });
      afterAll(() => hsts.close());

      it('adds Strict-Transport-Security, on errors and on engine.io’s own answers too', async () => {
        for (const path of ['/healthz', '/v1/me', '/socket.io/?EIO=4&transport=polling']) {
          const response = await new Http(hsts.url).get(path);
          expect(response.headers.get('strict-transport-security')).toMatch(/max-age=\d{7,}/);
        }
      });
    });
  });

  describe('CORS', () => {
    const preflight = (url: string, origin: string) =>
      fetch(`${url}/v1/agents`, {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization,content-type',
        },
      });

    it('answers the default allowed origin', async () => {
      const response = await http.get('/healthz', undefined, { origin: 'http://localhost:3000' });
      expect(response.headers.get('access-control-allow-origin')).toBe('http://localhost:3000');
      const options = await preflight(t.url, 'http://localhost:3000');
      expect(options.headers.get('access-control-allow-origin')).toBe('http://localhost:3000');
      expect(options.headers.get('access-control-allow-methods')).toContain('POST');
    });

    it('gives a foreign origin no CORS grant', async () => {
      const response = await http.get('/healthz', undefined, { origin: 'http://evil.com' });
      expect(response.headers.get('access-control-allow-origin')).toBeNull();
      const options = await preflight(t.url, 'http://evil.com');
      expect(options.headers.get('access-control-allow-origin')).toBeNull();
    });

    it('serves clients that send no Origin (agents, curl)', async () => {
      expect((await http.get('/healthz')).status).toBe(200);
    });

    describe('with a CIDR entry in ALLOWED_ORIGINS', () => {
      let lan: TestApp;
      let lanHttp: Http;

      beforeAll(async () => {
        lan = await bootTestApp({ ALLOWED_ORIGINS: 'http://localhost:3000,http://192.168.1.0/24' });
        lanHttp = new Http(lan.url);
      });
      afterAll(() => lan.close());

      it.each([
        ['http://192.168.1.77:8080', true],
        ['http://192.168.1.3', true],
        ['http://localhost:3000', true],
        ['http://192.168.2.1', false],
        ['https://192.168.1.77', false],
        ['http://evil.com', false],
      ])('%s allowed: %s', async (origin, allowed) => {
        const response = await lanHttp.get('/healthz', undefined, { origin });
        expect(response.headers.get('access-control-allow-origin')).toBe(allowed ? origin : null);
      });
    });
  });

  describe('X-Request-Id', () => {
    it('echoes a plain client-supplied id', async () => {
      const response = await http.get('/healthz', undefined, { 'x-request-id': 'lb-42.abc:def' });
      expect(response.headers.get('x-request-id')).toBe('lb-42.abc:def');
    });

    it('generates a UUIDv7 when there is none, on errors too', async () => {
      for (const path of ['/healthz', '/v1/me']) {
        const response = await http.get(path);
        expect(response.headers.get('x-request-id')).toMatch(
          /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
        );
      }
    });

    it('replaces an id that is too long or not plain', async () => {
      for (const bad of ['x'.repeat(65), 'has space', '<script>']) {
        const response = await http.get('/healthz', undefined, { 'x-request-id': bad });
        expect(response.headers.get('x-request-id')).not.toBe(bad);
        expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
      }
    });
  });

  it('/docs-json serves an OpenAPI document describing the REST API', async () => {
    const response = await http.get('/docs-json');
    expect(response.status).toBe(200);
    expect(response.body.openapi).toMatch(/^3\./);
    expect(response.body.paths['/v1/auth/token']).toHaveProperty('post');
    expect(response.body.paths['/v1/agents']).toHaveProperty('get');
    expect(response.body.paths).not.toHaveProperty('/metrics');
  });
});

describe('readiness when PostgreSQL goes away and comes back', () => {
  let dataDir: string;
  let pg: EmbeddedPostgres;
  let t: TestApp;
  let http: Http;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'agenthub-readyz-test-'));
    // As root, PostgreSQL runs as the postgres user, which must be able to enter this folder.
    chmodSync(dataDir, 0o755);
    // A fixed port, so the app's pool finds the server again after the restart.
    pg = new EmbeddedPostgres({ dataDir, port: await freePort() });
    await pg.start();
    const admin = new Client({ connectionString: pg.url('postgres') });
    await admin.connect();
    await admin.query('CREATE DATABASE agenthub_readyz_test');
    await admin.end();
    t = await bootTestApp({}, { url: pg.url('agenthub_readyz_test') });
    http = new Http(t.url);
  }, 60_000);

  afterAll(async () => {
    await t?.close();
    await pg?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('answers 200, then 503 while the database is down, then 200 again', async () => {
    expect((await http.get('/readyz')).status).toBe(200);
    expect((await http.get('/v1/agents', t.adminToken)).status).toBe(200);

    await pg.stop();
    await waitFor(async () => (await http.get('/readyz')).status === 503, 5000);
    const down = await http.get('/readyz');
    expect(down.status).toBe(503);
    expect(down.body).toEqual({ status: 'unavailable', checks: { database: 'down' } });
    expect((await http.get('/healthz')).status).toBe(200);

    const rest = await http.get('/v1/agents', t.adminToken);
    expect(rest.status).toBe(503);
    expect(rest.body).toEqual({
      statusCode: 503,
      code: 'unavailable',
      message: expect.any(String),
    });

    await pg.start();
    await waitFor(async () => (await http.get('/readyz')).status === 200, 10_000);
    expect((await http.get('/readyz')).body).toEqual({ status: 'ok', checks: { database: 'up' } });
    expect((await http.get('/v1/agents', t.adminToken)).status).toBe(200);
  }, 60_000);
});
