import { connect } from 'node:net';
import { createAgent, TestAgent } from '../factories/agents';
import { Http, HttpResult } from '../support/http';
import { bootTestApp, TestApp } from '../support/test-app';

/**
 * Pen-test checklist: "Header Injection: Send malformed headers (e.g., X-Agent-Id:
 * <script>alert(1)</script>)". Script tags, CRLF and oversized values in the headers a client
 * controls: never a 500, never reflected into a response header or body, no identity from a header
 * other than Authorization, and the security headers on every answer the application gives.
 */

const SCRIPT = '<script>alert(1)</script>';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

interface RawResponse {
  status: number;
  /** Lower-cased header names, each with every value it had. */
  headers: Map<string, string[]>;
  text: string;
}

/** Sends hand-written bytes (fetch refuses CR, LF and NUL in headers) and reads to the close. */
function rawRequest(url: string, request: string): Promise<RawResponse> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer to ${JSON.stringify(request.slice(0, 80))}`));
    }, 5000);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    // The server may reset a connection it refused; what arrived before still counts.
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      const [head] = text.split('\r\n\r\n');
      const [statusLine, ...lines] = head.split('\r\n');
      const headers = new Map<string, string[]>();
      for (const line of lines) {
        const colon = line.indexOf(':');
        const name = line.slice(0, colon).trim().toLowerCase();
        headers.set(name, [...(headers.get(name) ?? []), line.slice(colon + 1).trim()]);
      }
      resolve({ status: Number(statusLine.split(' ')[1] ?? 0), headers, text });
    });
    socket.write(request, 'latin1');
  });
}

/** A GET with `Connection: close`; `lines` go in verbatim, CRLFs and all. */
function rawGet(path: string, lines: string[], host = '127.0.0.1'): string {
  return [`GET ${path} HTTP/1.1`, `Host: ${host}`, ...lines, 'Connection: close', '', ''].join(
    '\r\n',
  );
}

/** Every header name and value of a fetch response, and its body, as one text. */
function everything(response: HttpResult): string {
  const headers = [...response.headers.entries()].map(([k, v]) => `${k}: ${v}`).join('\n');
  const body = typeof response.body === 'string' ? response.body : JSON.stringify(response.body);
  return `${headers}\n\n${body ?? ''}`;
}

function expectSecurityHeaders(get: (name: string) => string | null | undefined): void {
  const csp = get('content-security-policy') ?? '';
  expect(csp).toContain("default-src 'self'");
  expect(csp).toContain("frame-ancestors 'none'");
  expect(get('x-frame-options')).toBe('DENY');
  expect(get('x-content-type-options')).toBe('nosniff');
  expect(get('referrer-policy')).toBe('strict-origin');
  expect(get('strict-transport-security') ?? null).toBeNull();
}

describe('pen-test: header injection', () => {
  let t: TestApp;
  let http: Http;
  let agent: TestAgent;

  beforeAll(async () => {
    t = await bootTestApp();
    http = new Http(t.url);
    agent = await createAgent(http, t.adminToken);
  });
  afterAll(() => t.close());

  /** The newest audit rows of a type, read as the admin. */
  const audit = async (type: string) =>
    (await http.get(`/v1/audit-events?type=${type}&limit=5`, t.adminToken)).body.items as any[];

  describe('X-Agent-Id', () => {
    it('grants nothing without a token: 401 whatever it names, the admin included', async () => {
      const admin = (await http.get('/v1/me', t.adminToken)).body.id as string;
      for (const value of [SCRIPT, admin, agent.agent.id, 'admin', '*']) {
        for (const path of ['/v1/me', '/v1/agents', '/v1/rooms', '/v1/audit-events']) {
          const response = await http.get(path, undefined, { 'x-agent-id': value });
          expect(response.status).toBe(401);
          expect(response.body).toMatchObject({ statusCode: 401, code: 'unauthorized' });
          expect(everything(response)).not.toContain(SCRIPT);
          expectSecurityHeaders((name) => response.headers.get(name));
        }
      }
    });

    it('changes no identity when a token is present: an agent naming the admin is still itself', async () => {
      const admin = (await http.get('/v1/me', t.adminToken)).body.id as string;
      const me = await http.get('/v1/me', agent.jwt, { 'x-agent-id': admin });
      expect(me.status).toBe(200);
      expect(me.body.id).toBe(agent.agent.id);
      expect((await http.get('/v1/agents', agent.jwt, { 'x-agent-id': admin })).status).toBe(403);
      const scripted = await http.get('/v1/me', agent.jwt, { 'x-agent-id': SCRIPT });
      expect(scripted.status).toBe(200);
      expect(everything(scripted)).not.toContain(SCRIPT);
    });
  });

  describe('script tags in client-controlled headers', () => {
    const headers: Record<string, string> = {
      'x-agent-id': SCRIPT,
      'x-request-id': SCRIPT,
      'x-forwarded-for': `${SCRIPT}, 203.0.113.9`,
      'x-forwarded-host': SCRIPT,
      'x-real-ip': SCRIPT,
      origin: SCRIPT,
      referer: `http://evil.com/${SCRIPT}`,
      'user-agent': SCRIPT,
      'accept-language': SCRIPT,
      cookie: `session=${SCRIPT}`,
    };

    it.each([
      ['GET /healthz', 'GET', '/healthz', false],
      ['GET /v1/me (anonymous)', 'GET', '/v1/me', false],
      ['GET /v1/me', 'GET', '/v1/me', true],
      ['GET /v1/rooms', 'GET', '/v1/rooms', true],
      ['GET /v1/agents (agent: 403)', 'GET', '/v1/agents', true],
      ['GET an unknown route', 'GET', '/v1/nope', true],
      ['POST /v1/rooms with a bad body', 'POST', '/v1/rooms', true],
    ])('%s: answered without a 500 and without reflecting them', async (_, method, path, auth) => {
      const response = await http.request(method, path, {
        token: auth ? agent.jwt : undefined,
        headers,
        body: method === 'POST' ? { name: SCRIPT } : undefined,
      });
      expect(response.status).toBeLessThan(500);
      expect(everything(response).toLowerCase()).not.toContain('<script');
      expect(everything(response)).not.toContain('alert(1)');
      expect(response.headers.get('access-control-allow-origin')).toBeNull();
      expectSecurityHeaders((name) => response.headers.get(name));
    });

    it('Authorization with a script tag, in any scheme, is a plain 401', async () => {
      for (const value of [
        `Bearer ${SCRIPT}`,
        `Bearer ${SCRIPT.replace(/\s/g, '')}`,
        `Basic ${SCRIPT}`,
        SCRIPT,
        `Bearer ahp_${'<'.repeat(43)}`,
        `Bearer ${'a'.repeat(8000)}`,
      ]) {
        const response = await http.get('/v1/me', undefined, { authorization: value });
        expect(response.status).toBe(401);
        expect(response.body).toMatchObject({ statusCode: 401, code: 'unauthorized' });
        expect(everything(response)).not.toContain('alert(1)');
        expectSecurityHeaders((name) => response.headers.get(name));
      }
    });
  });

  describe('X-Request-Id', () => {
    it('replaces an unsafe client id with a generated one, in the response and in the audit log', async () => {
      for (const value of [
        SCRIPT,
        'abc%0d%0aSet-Cookie:%20x=1',
        'a'.repeat(65),
        'id with spaces',
        '"quoted"',
        "'; DROP TABLE audit_events--",
      ]) {
        const response = await http.get('/v1/me', undefined, {
          'x-request-id': value,
          authorization: 'Bearer ahp_invalid',
        });
        expect(response.status).toBe(401);
        const id = response.headers.get('x-request-id');
        expect(id).toMatch(UUID);
        expect(everything(response)).not.toContain(value);
        expect(response.headers.get('set-cookie')).toBeNull();
        const [row] = await audit('auth-failed');
        expect(row.requestId).toBe(id);
      }
    });

    it('keeps a short plain client id, so callers can correlate their requests', async () => {
      const response = await http.get('/v1/me', agent.jwt, { 'x-request-id': 'trace-42.a:b_c' });
      expect(response.headers.get('x-request-id')).toBe('trace-42.a:b_c');
    });
  });

  it('ignores X-Forwarded-For from a peer outside TRUSTED_PROXIES: the audit keeps the socket address', async () => {
    const response = await http.get('/v1/me', undefined, {
      authorization: 'Bearer ahp_spoofed',
      'x-forwarded-for': `${SCRIPT}, 198.51.100.7`,
    });
    expect(response.status).toBe(401);
    const [row] = await audit('auth-failed');
    expect(row.ip).toBe('127.0.0.1');
  });

  describe('raw requests (what fetch refuses to send)', () => {
    const neverInjected = (response: RawResponse) => {
      expect(response.status).toBeGreaterThanOrEqual(200);
      expect(response.status).toBeLessThan(500);
      expect(response.headers.has('set-cookie')).toBe(false);
      expect(response.headers.has('x-injected')).toBe(false);
      expect(response.text.toLowerCase()).not.toContain('<script');
      expect(response.text).not.toContain('alert(1)');
    };

    it('a script tag or a foreign name in Host is neither reflected nor fatal', async () => {
      for (const host of [SCRIPT, 'evil.com', 'evil.com:3000', `127.0.0.1 ${SCRIPT}`]) {
        for (const path of ['/v1/me', '/healthz', '/v1/nope']) {
          const response = await rawRequest(t.url, rawGet(path, [], host));
          neverInjected(response);
          expect(response.text).not.toContain('evil.com');
          if (response.status !== 400) expectSecurityHeaders((n) => response.headers.get(n)?.[0]);
        }
      }
    });

    it('a CR, LF or NUL inside a header value cannot add a response header or split the response', async () => {
      const attempts = [
        // A bare CR: no header is allowed to contain one.
        [`X-Request-Id: abc\rSet-Cookie: injected=1`],
        [`X-Agent-Id: ${SCRIPT}\rX-Injected: 1`],
        // A NUL byte.
        [`X-Request-Id: abc\u0000Set-Cookie: injected=1`],
        // An obsolete folded continuation line.
        ['X-Request-Id: abc', ` Set-Cookie: injected=1`],
        // A bare LF: at most a second request header, never a response header.
        [`X-Request-Id: abc\nSet-Cookie: injected=1`],
        [`X-Agent-Id: ${SCRIPT}\nX-Injected: 1`],
        // A header name that is not a token.
        [`X-<script>: 1`],
        [`X-Agent-Id : ${SCRIPT}`],
      ];
      for (const lines of attempts) {
        const response = await rawRequest(t.url, rawGet('/v1/me', lines));
        neverInjected(response);
        if (response.status !== 400) {
          // Accepted by the parser: the application answered, with its headers.
          expect(response.status).toBe(401);
          expect(response.headers.get('x-request-id')?.[0]).toMatch(UUID);
          expectSecurityHeaders((n) => response.headers.get(n)?.[0]);
        }
      }
    });

    it('an encoded CRLF in the request target stays inside the answer body', async () => {
      for (const path of [
        '/v1/me%0d%0aX-Injected:%201',
        '/v1/rooms/%0d%0aSet-Cookie:%20injected=1',
        `/v1/rooms/${encodeURIComponent(SCRIPT)}`,
      ]) {
        const response = await rawRequest(
          t.url,
          rawGet(path, [`Authorization: Bearer ${agent.jwt}`]),
        );
        neverInjected(response);
        expectSecurityHeaders((n) => response.headers.get(n)?.[0]);
      }
    });
  });

  describe('the request target', () => {
    it('a raw script tag in an unknown path comes back only inside JSON, with nosniff and the CSP', async () => {
      // Browsers percent-encode "<" in paths; only a hand-made client sends it raw.
      const response = await rawRequest(
        t.url,
        rawGet(`/v1/nope/${SCRIPT}`, [`Authorization: Bearer ${agent.jwt}`]),
      );
      expect(response.status).toBe(404);
      expect(response.headers.get('content-type')?.[0]).toMatch(/^application\/json/);
      expectSecurityHeaders((n) => response.headers.get(n)?.[0]);
      const body = JSON.parse(response.text.split('\r\n\r\n')[1]);
      expect(body).toMatchObject({ statusCode: 404, code: 'not_found' });
    });

    it('a malformed percent-encoding is answered in the contract shape, with the security headers', async () => {
      const response = await rawRequest(
        t.url,
        rawGet(`/v1/rooms/%E0%A4%A${encodeURIComponent(SCRIPT)}`, [
          `Authorization: Bearer ${agent.jwt}`,
        ]),
      );
      expect(response.status).toBe(400);
      const body = JSON.parse(response.text.split('\r\n\r\n')[1]);
      expect(body).toMatchObject({ statusCode: 400, code: 'validation_failed' });
      expectSecurityHeaders((n) => response.headers.get(n)?.[0]);
      expect(response.headers.get('x-request-id')?.[0]).toMatch(UUID);
    });
  });

  describe('oversized headers', () => {
    it('a header over the server limit gets 431, not a 500 or a hang', async () => {
      const response = await rawRequest(
        t.url,
        rawGet('/v1/me', [`X-Agent-Id: ${SCRIPT}${'A'.repeat(20_000)}`]),
      );
      expect(response.status).toBe(431);
      expect(response.text).not.toContain('alert(1)');
      // The server is still serving.
      expect((await http.get('/healthz')).status).toBe(200);
    });

    it('a large header under the limit is harmless: 401 for the anonymous, 200 for an agent', async () => {
      const big = `${SCRIPT}${'B'.repeat(8000)}`;
      const anonymous = await http.get('/v1/me', undefined, {
        'x-agent-id': big,
        'x-request-id': big,
      });
      expect(anonymous.status).toBe(401);
      expect(anonymous.headers.get('x-request-id')).toMatch(UUID);
      expect(everything(anonymous)).not.toContain('alert(1)');
      const authed = await http.get('/v1/me', agent.jwt, { 'x-agent-id': big });
      expect(authed.status).toBe(200);
    });
  });
});

describe('pen-test: header injection behind a trusted proxy', () => {
  let t: TestApp;
  let http: Http;

  beforeAll(async () => {
    t = await bootTestApp({ TRUSTED_PROXIES: '127.0.0.1' });
    http = new Http(t.url);
  });
  afterAll(() => t.close());

  it('a script tag forwarded by the proxy is neither fatal nor reflected', async () => {
    const response = await http.get('/v1/me', undefined, {
      authorization: 'Bearer ahp_spoofed',
      'x-forwarded-for': SCRIPT,
    });
    expect(response.status).toBe(401);
    expect(everything(response)).not.toContain('alert(1)');
    expectSecurityHeaders((name) => response.headers.get(name));
  });

  it('believes a well-formed forwarded address from the proxy', async () => {
    await http.get('/v1/me', undefined, {
      authorization: 'Bearer ahp_spoofed',
      'x-forwarded-for': '198.51.100.23',
    });
    const rows = (await http.get('/v1/audit-events?type=auth-failed&limit=1', t.adminToken)).body
      .items;
    expect(rows[0].ip).toBe('198.51.100.23');
  });
});
