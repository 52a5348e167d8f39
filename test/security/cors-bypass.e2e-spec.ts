import { createAgent, TestAgent } from '../factories/agents';
import { Http, HttpResult } from '../support/http';
import { closeAllSockets, connectError, connectSocket } from '../support/sockets';
import { bootTestApp, TestApp } from '../support/test-app';

/**
 * Pen-test checklist: "CORS Bypass: Send request with Origin: http://evil.com, check if accepted".
 * REST (preflight and simple requests) and the socket.io handshake (both transports) admit only
 * ALLOWED_ORIGINS, CIDR entries included; requests without Origin (agents, curl) stay allowed.
 */

/** Origins that look close to an allowed one but are not it. */
const LOOKALIKES = [
  'http://evil.com',
  'https://localhost:3000',
  'http://localhost:3001',
  'http://localhost',
  'http://localhost:3000.evil.com',
  'http://evil.com:3000',
  'http://localhost:3000@evil.com',
  'http://evil.com#@localhost:3000',
  'http://127.0.0.1:3000',
  'null',
  'file://',
  'localhost:3000',
  '*',
];

const allowOrigin = (response: HttpResult) => response.headers.get('access-control-allow-origin');

describe('pen-test: CORS bypass', () => {
  describe('with the default ALLOWED_ORIGINS (http://localhost:3000)', () => {
    let t: TestApp;
    let http: Http;
    let agent: TestAgent;

    beforeAll(async () => {
      t = await bootTestApp();
      http = new Http(t.url);
      agent = await createAgent(http, t.adminToken);
    });
    afterEach(() => closeAllSockets());
    afterAll(() => t.close());

    const preflight = (origin: string, method = 'POST', headers = 'authorization,content-type') =>
      http.request('OPTIONS', '/v1/rooms', {
        headers: {
          origin,
          'access-control-request-method': method,
          'access-control-request-headers': headers,
        },
      });

    it('gives a preflight from http://evil.com no Access-Control-Allow-* header', async () => {
      const response = await preflight('http://evil.com');
      expect(response.status).toBeLessThan(500);
      expect(allowOrigin(response)).toBeNull();
      expect(response.headers.get('access-control-allow-methods')).toBeNull();
      expect(response.headers.get('access-control-allow-headers')).toBeNull();
      expect(response.headers.get('access-control-allow-credentials')).toBeNull();
    });

    it('refuses every look-alike origin, on preflights and on simple requests', async () => {
      for (const origin of LOOKALIKES) {
        const pre = await preflight(origin);
        expect({ origin, status: pre.status < 500, allow: allowOrigin(pre) }).toEqual({
          origin,
          status: true,
          allow: null,
        });
        const simple = await http.get('/v1/rooms', agent.jwt, { origin });
        // CORS is enforced by the browser: the server answers, but grants the page no read.
        expect({ origin, allow: allowOrigin(simple) }).toEqual({ origin, allow: null });
      }
    });

    it('never answers with a wildcard or with credentials, whatever the origin', async () => {
      for (const origin of ['http://evil.com', 'http://localhost:3000']) {
        for (const response of [
          await preflight(origin),
          await http.get('/v1/me', agent.jwt, { origin }),
          await http.get('/v1/me', undefined, { origin }),
        ]) {
          expect(allowOrigin(response)).not.toBe('*');
          expect(response.headers.get('access-control-allow-credentials')).toBeNull();
        }
      }
    });

    it('grants http://localhost:3000 its preflight, limited to the API methods and headers', async () => {
      const response = await preflight(
        'http://localhost:3000',
        'PATCH',
        'authorization,x-agent-id',
      );
      expect(response.status).toBe(204);
      expect(allowOrigin(response)).toBe('http://localhost:3000');
      expect(response.headers.get('vary')).toMatch(/origin/i);
      const methods = (response.headers.get('access-control-allow-methods') ?? '').split(/,\s*/);
      expect(methods).toEqual(expect.arrayContaining(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']));
      expect(methods).not.toContain('TRACE');
      const headers = (response.headers.get('access-control-allow-headers') ?? '').toLowerCase();
      expect(headers.split(/,\s*/)).toEqual(['authorization', 'content-type', 'x-request-id']);
      expect(Number(response.headers.get('access-control-max-age'))).toBeGreaterThan(0);
    });

    it('grants http://localhost:3000 simple requests, error answers included, and exposes the rate-limit headers', async () => {
      const ok = await http.get('/v1/rooms', agent.jwt, { origin: 'http://localhost:3000' });
      expect(ok.status).toBe(200);
      expect(allowOrigin(ok)).toBe('http://localhost:3000');
      const exposed = (ok.headers.get('access-control-expose-headers') ?? '').toLowerCase();
      for (const name of [
        'x-request-id',
        'retry-after',
        'ratelimit-limit',
        'ratelimit-remaining',
      ]) {
        expect(exposed).toContain(name);
      }
      const denied = await http.get('/v1/me', undefined, { origin: 'http://localhost:3000' });
      expect(denied.status).toBe(401);
      expect(allowOrigin(denied)).toBe('http://localhost:3000');
    });

    it('serves clients that send no Origin (agents, curl) without any CORS header', async () => {
      const response = await http.get('/v1/rooms', agent.jwt);
      expect(response.status).toBe(200);
      expect(allowOrigin(response)).toBeNull();
    });

    it('applies the same rule to the socket.io handshake over WebSocket', async () => {
      await expect(
        connectSocket(t.url, agent.jwt, { origin: 'http://localhost:3000' }),
      ).resolves.toBeDefined();
      await expect(connectSocket(t.url, agent.jwt)).resolves.toBeDefined();
      for (const origin of LOOKALIKES) {
        const error = await connectError(t.url, agent.jwt, { origin });
        expect(error).toBeInstanceOf(Error);
      }
    });

    it('applies the same rule to the socket.io long-polling handshake', async () => {
      const handshake = (origin?: string) =>
        http.get('/socket.io/?EIO=4&transport=polling', undefined, origin ? { origin } : {});
      const evil = await handshake('http://evil.com');
      expect(evil.status).toBe(403);
      expect(allowOrigin(evil)).not.toBe('http://evil.com');
      expect(allowOrigin(evil)).not.toBe('*');
      const good = await handshake('http://localhost:3000');
      expect(good.status).toBe(200);
      expect(allowOrigin(good)).toBe('http://localhost:3000');
      expect(good.headers.get('access-control-allow-credentials')).toBeNull();
      // engine.io writes these answers itself, past helmet: the runbook's headers still apply.
      const malformed = await http.get('/socket.io/?EIO=9&transport=polling');
      expect(malformed.status).toBe(400);
      // The same policy as helmet's on the application's answers, character for character.
      const helmetCsp = (await http.get('/healthz')).headers.get('content-security-policy');
      expect(helmetCsp).toContain("default-src 'self'");
      for (const response of [evil, good, malformed]) {
        expect(response.headers.get('content-security-policy')).toBe(helmetCsp);
        expect(response.headers.get('x-frame-options')).toBe('DENY');
        expect(response.headers.get('x-content-type-options')).toBe('nosniff');
        expect(response.headers.get('referrer-policy')).toBe('strict-origin');
        expect(response.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
      }
    });
  });

  describe("with ALLOWED_ORIGINS='http://localhost:3000,http://192.168.1.0/24' (runbook Phase 1)", () => {
    let t: TestApp;
    let http: Http;
    let agent: TestAgent;

    beforeAll(async () => {
      t = await bootTestApp({ ALLOWED_ORIGINS: 'http://localhost:3000,http://192.168.1.0/24' });
      http = new Http(t.url);
      agent = await createAgent(http, t.adminToken);
    });
    afterEach(() => closeAllSockets());
    afterAll(() => t.close());

    const ALLOWED = [
      'http://localhost:3000',
      'http://192.168.1.50:3000',
      'http://192.168.1.50',
      'http://192.168.1.1:8080',
      'http://192.168.1.255',
    ];
    const REFUSED = [
      'http://192.168.2.50',
      'http://192.168.2.50:3000',
      'http://192.168.1.50.evil.com',
      'http://192.168.1.50.evil.com:3000',
      'http://evil.192.168.1.50.nip.io',
      'https://192.168.1.50:3000',
      'ws://192.168.1.50:3000',
      'http://192.168.10.5',
      'http://10.192.168.1',
      'http://192.168.1.50@evil.com',
      'null',
      'http://evil.com',
    ];

    it('admits the range and the exact origin on REST, and nothing that merely contains them', async () => {
      for (const origin of ALLOWED) {
        const response = await http.get('/v1/rooms', agent.jwt, { origin });
        expect({ origin, allow: allowOrigin(response) }).toEqual({ origin, allow: origin });
      }
      for (const origin of REFUSED) {
        const simple = await http.get('/v1/rooms', agent.jwt, { origin });
        const pre = await http.request('OPTIONS', '/v1/rooms', {
          headers: { origin, 'access-control-request-method': 'POST' },
        });
        expect({ origin, simple: allowOrigin(simple), pre: allowOrigin(pre) }).toEqual({
          origin,
          simple: null,
          pre: null,
        });
      }
    });

    it('admits the same origins, and refuses the same, on the socket.io handshake', async () => {
      for (const origin of ALLOWED) {
        await expect(connectSocket(t.url, agent.jwt, { origin })).resolves.toBeDefined();
      }
      for (const origin of REFUSED) {
        const error = await connectError(t.url, agent.jwt, { origin });
        expect(error).toBeInstanceOf(Error);
      }
    });
  });
});
