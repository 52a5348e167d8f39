import { createAgent } from '../factories/agents';
import { Http } from '../support/http';
import { bootTestApp, TestApp } from '../support/test-app';

/** Pen-test checklist: "Rate Limit Bypass: Burst 200 requests in 10 seconds from single IP". */
describe('pen-test: REST rate limits', () => {
  describe('with the runbook defaults (100/min anonymous, 600/min per agent)', () => {
    let t: TestApp;
    let http: Http;

    beforeAll(async () => {
      t = await bootTestApp({ RATE_LIMIT_REST_ANON: '100', RATE_LIMIT_REST_AUTH: '600' });
      http = new Http(t.url);
    });
    afterAll(() => t.close());

    it('answers 429 rate_limited from the 101st of 200 anonymous requests, X-Forwarded-For spoofing included', async () => {
      const statuses: number[] = [];
      let firstLimited: Awaited<ReturnType<Http['get']>> | undefined;
      for (let i = 0; i < 200; i += 1) {
        // A different spoofed client address on every request: not trusted, so it changes nothing.
        const response = await http.get('/v1/me', undefined, {
          'x-forwarded-for': `203.0.113.${i % 250}`,
        });
        statuses.push(response.status);
        if (response.status === 429 && !firstLimited) firstLimited = response;
      }
      expect(statuses.slice(0, 100).every((s) => s === 401)).toBe(true);
      expect(statuses.slice(100).every((s) => s === 429)).toBe(true);
      expect(firstLimited!.body).toMatchObject({ statusCode: 429, code: 'rate_limited' });
      expect(Number(firstLimited!.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(firstLimited!.headers.get('ratelimit-limit')).toBe('100');
      expect(firstLimited!.headers.get('ratelimit-remaining')).toBe('0');
      expect(firstLimited!.headers.get('x-frame-options')).toBe('DENY');
    });

    it('counts all routes together, and still answers the probes', async () => {
      expect((await http.post('/v1/auth/token', { apiToken: 'x' })).status).toBe(429);
      expect((await http.get('/healthz')).status).toBe(200);
      expect((await http.get('/readyz')).status).toBe(200);
    });

    it('counts each refusal in rate_limit_hits_total{transport="rest"} and samples a rate-limited audit row', async () => {
      // The limited IP is 127.0.0.1: read with the admin's credentials, which count per agent.
      const metrics = await fetch(`${t.url}/metrics`);
      expect(metrics.status).toBe(429);
      const events = await http.get('/v1/audit-events?type=rate-limited', t.adminToken);
      expect(events.status).toBe(200);
      expect(events.body.items).toHaveLength(1);
      expect(events.body.items[0]).toMatchObject({
        type: 'rate-limited',
        ip: '127.0.0.1',
        data: { transport: 'rest', limit: 100 },
      });
    });

    it('answers token guesses from the exhausted IP with 429 and no audit row each; valid credentials still work', async () => {
      const failures = async () =>
        (await http.get('/v1/audit-events?type=auth-failed&limit=200', t.adminToken)).body.items
          .length;
      const before = await failures();
      for (let i = 0; i < 5; i += 1) {
        const guess = await http.get('/v1/me', `ahp_${'x'.repeat(40)}${i}ab`);
        expect(guess.status).toBe(429);
      }
      expect(await failures()).toBe(before);
    });

    it('sends RateLimit headers on successful authenticated responses', async () => {
      const response = await http.get('/v1/me', t.adminToken);
      expect(response.status).toBe(200);
      expect(response.headers.get('ratelimit-limit')).toBe('600');
      expect(Number(response.headers.get('ratelimit-remaining'))).toBeLessThan(600);
      expect(Number(response.headers.get('ratelimit-reset'))).toBeGreaterThan(0);
    });
  });

  it('limits authenticated agents per agent across routes, with per-agent overrides set by an admin', async () => {
    const t = await bootTestApp({ RATE_LIMIT_REST_AUTH: '20' });
    try {
      const http = new Http(t.url);
      const busy = await createAgent(http, t.adminToken);
      const calm = await createAgent(http, t.adminToken);
      const statuses: number[] = [];
      for (let i = 0; i < 25; i += 1) {
        statuses.push((await http.get(i % 2 ? '/v1/me' : '/v1/rooms', busy.jwt)).status);
      }
      expect(statuses.filter((s) => s === 200)).toHaveLength(20);
      expect(statuses.slice(20)).toEqual([429, 429, 429, 429, 429]);
      expect((await http.get('/v1/me', calm.jwt)).status).toBe(200);

      const patched = await http.patch(
        `/v1/agents/${calm.agent.id}`,
        { rateLimits: { restPerMinute: 3 } },
        t.adminToken,
      );
      expect(patched.status).toBe(200);
      expect(patched.body.rateLimits).toEqual({ restPerMinute: 3 });
      const calmStatuses: number[] = [];
      for (let i = 0; i < 4; i += 1) calmStatuses.push((await http.get('/v1/me', calm.jwt)).status);
      // One request was already spent above.
      expect(calmStatuses).toEqual([200, 200, 429, 429]);
      const invalid = await http.patch(
        `/v1/agents/${calm.agent.id}`,
        { rateLimits: { restPerMinute: 0 } },
        t.adminToken,
      );
      expect(invalid.body.code).toBe('validation_failed');
    } finally {
      await t.close();
    }
  });

  it('believes X-Forwarded-For only from TRUSTED_PROXIES', async () => {
    const t = await bootTestApp({ RATE_LIMIT_REST_ANON: '3', TRUSTED_PROXIES: '127.0.0.1' });
    try {
      const http = new Http(t.url);
      const from = (ip: string) => http.get('/v1/me', undefined, { 'x-forwarded-for': ip });
      const a = [
        await from('198.51.100.1'),
        await from('198.51.100.1'),
        await from('198.51.100.1'),
        await from('198.51.100.1'),
      ];
      expect(a.map((r) => r.status)).toEqual([401, 401, 401, 429]);
      expect((await from('198.51.100.2')).status).toBe(401);
    } finally {
      await t.close();
    }
  });
});
