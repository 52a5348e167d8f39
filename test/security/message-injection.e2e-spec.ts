import { Client } from 'pg';
import { createAgent, TestAgent } from '../factories/agents';
import { Http, HttpResult } from '../support/http';
import { closeAllSockets, collect, connectSocket, request, waitFor } from '../support/sockets';
import { bootTestApp, TestApp } from '../support/test-app';

/**
 * Pen-test checklist: "Message Injection: Send message with body: '<script>alert(1)</script>',
 * verify escaping". The hub's answer to markup in messages is not to rewrite it: bodies and data
 * are stored verbatim and only ever served as JSON (DESIGN.md "Messages"), under a CSP and
 * `nosniff`, so no browser treats them as a page. Escaping is the renderer's job; the API must
 * neither execute nor mangle (escape, strip, double-escape) what agents send.
 */

const SCRIPT = '<script>alert(1)</script>';
const MARKUP = [
  SCRIPT,
  '<img src=x onerror=alert(1)>',
  '"><svg/onload=alert(1)>',
  '\'><iframe srcdoc="<script>parent.alert(1)</script>">',
  '</script><script>alert(document.cookie)</script>',
  'javascript:alert(1)',
  '<a href="javascript:alert(1)">click</a>',
  "{{constructor.constructor('alert(1)')()}}",
  '${alert(1)}',
  '&lt;script&gt;alert(1)&lt;/script&gt;',
  '<!-- <script> -->',
  '\u2028<script>\u2029alert(1)',
  '<ScRiPt>alert(1)</sCrIpT>',
  '<style>@import "http://evil.com/x.css";</style>',
];
const HTML_DATA = {
  html: SCRIPT,
  nested: { '<b onmouseover=alert(1)>key</b>': ['<img src=x onerror=alert(1)>', { a: SCRIPT }] },
  list: MARKUP.slice(0, 4),
};

/** Served as JSON, with the headers that keep a browser from rendering or sniffing it. */
function expectJsonOnly(response: HttpResult): void {
  expect(response.headers.get('content-type')).toMatch(/^application\/json\b/);
  expect(response.headers.get('content-type')).not.toMatch(/html/i);
  expect(response.headers.get('x-content-type-options')).toBe('nosniff');
  const csp = response.headers.get('content-security-policy') ?? '';
  expect(csp).toContain("default-src 'self'");
  expect(csp).toContain("object-src 'none'");
  expect(csp).toContain("frame-ancestors 'none'");
  expect(response.headers.get('x-frame-options')).toBe('DENY');
}

describe('pen-test: message injection', () => {
  let t: TestApp;
  let http: Http;
  let alice: TestAgent;
  let bob: TestAgent;
  let roomId: string;

  beforeAll(async () => {
    t = await bootTestApp();
    http = new Http(t.url);
    alice = await createAgent(http, t.adminToken);
    bob = await createAgent(http, t.adminToken);
  });
  beforeEach(async () => {
    const room = await http.post(
      '/v1/rooms',
      { name: `xss-${Date.now()}-${Math.floor(Math.random() * 1e6)}` },
      alice.jwt,
    );
    roomId = room.body.id;
    expect(
      (await http.put(`/v1/rooms/${roomId}/members/${bob.agent.id}`, {}, alice.jwt)).status,
    ).toBe(200);
  });
  afterEach(() => closeAllSockets());
  afterAll(() => t.close());

  const history = (token: string, accept?: string) =>
    http.get(`/v1/rooms/${roomId}/messages?limit=200`, token, accept ? { accept } : undefined);

  it('REST: a script-tag body is stored and returned verbatim, as JSON under CSP and nosniff', async () => {
    const sent = await http.post(`/v1/rooms/${roomId}/messages`, { body: SCRIPT }, alice.jwt);
    expect(sent.status).toBe(201);
    expectJsonOnly(sent);
    expect(sent.body.body).toBe(SCRIPT);

    const read = await history(bob.jwt);
    expect(read.status).toBe(200);
    expectJsonOnly(read);
    expect(read.body.items.map((m: { body: string }) => m.body)).toEqual([SCRIPT]);

    const db = new Client({ connectionString: t.databaseUrl });
    await db.connect();
    try {
      const rows = await db.query<{ body: string }>('SELECT body FROM messages WHERE id = $1', [
        sent.body.id,
      ]);
      expect(rows.rows[0].body).toBe(SCRIPT);
    } finally {
      await db.end();
    }
  });

  it('REST: asking for HTML still gets JSON; there is no HTML rendering of a message', async () => {
    await http.post(`/v1/rooms/${roomId}/messages`, { body: SCRIPT }, alice.jwt);
    for (const accept of ['text/html', 'text/html,application/xhtml+xml;q=0.9', '*/*']) {
      const read = await history(bob.jwt, accept);
      expect(read.status).toBe(200);
      expectJsonOnly(read);
      expect(read.body.items[0].body).toBe(SCRIPT);
    }
  });

  it('REST: markup, pre-escaped entities and template syntax all come back exactly as sent', async () => {
    for (const body of MARKUP) {
      const sent = await http.post(`/v1/rooms/${roomId}/messages`, { body }, alice.jwt);
      expect(sent.status).toBe(201);
      expect(sent.body.body).toBe(body);
    }
    const read = await history(bob.jwt);
    expectJsonOnly(read);
    // Neither escaped (&lt;), nor unescaped, nor stripped.
    expect(read.body.items.map((m: { body: string }) => m.body)).toEqual(MARKUP);
  });

  it('REST: HTML strings inside data, keys included, come back verbatim', async () => {
    const sent = await http.post(
      `/v1/rooms/${roomId}/messages`,
      { body: 'structured', data: HTML_DATA },
      alice.jwt,
    );
    expect(sent.status).toBe(201);
    expect(sent.body.data).toEqual(HTML_DATA);
    const read = await history(bob.jwt);
    expectJsonOnly(read);
    expect(read.body.items[0].data).toEqual(HTML_DATA);
  });

  it('socket.io: message:new carries the same verbatim body and data as the ack and the history', async () => {
    const a = await connectSocket(t.url, alice.jwt);
    const b = await connectSocket(t.url, bob.jwt);
    expect((await request(a, 'room:join', { roomId })).ok).toBe(true);
    expect((await request(b, 'room:join', { roomId })).ok).toBe(true);
    const atBob = collect(b, 'message:new');

    const acks = [];
    for (const body of MARKUP) {
      acks.push(await request(a, 'message:send', { roomId, body, data: HTML_DATA }));
    }
    expect(acks.every((ack) => ack.ok === true)).toBe(true);
    expect(acks.map((ack) => ack.message.body)).toEqual(MARKUP);
    await waitFor(() => atBob.length === MARKUP.length, 5000, 'message:new at bob');
    expect(atBob.map((m) => m.body)).toEqual(MARKUP);
    expect(atBob[0].data).toEqual(HTML_DATA);
    expect(atBob).toEqual(acks.map((ack) => ack.message));

    const read = await history(bob.jwt);
    expectJsonOnly(read);
    expect(read.body.items).toEqual(atBob);
  });

  it('a script-tag body sent over REST reaches sockets verbatim, and one sent over socket.io reads back verbatim over REST', async () => {
    const b = await connectSocket(t.url, bob.jwt);
    expect((await request(b, 'room:join', { roomId })).ok).toBe(true);
    const atBob = collect(b, 'message:new');
    const sent = await http.post(
      `/v1/rooms/${roomId}/messages`,
      { body: SCRIPT, data: { html: SCRIPT } },
      alice.jwt,
    );
    await waitFor(() => atBob.length === 1, 5000, 'message:new at bob');
    expect(atBob[0]).toEqual(sent.body);
    expect(atBob[0].body).toBe(SCRIPT);

    const ack = await request(b, 'message:send', {
      roomId,
      body: `${SCRIPT} reply`,
      replyTo: sent.body.id,
    });
    expect(ack.ok).toBe(true);
    const read = await history(alice.jwt);
    expect(read.body.items.map((m: { body: string }) => m.body)).toEqual([
      SCRIPT,
      `${SCRIPT} reply`,
    ]);
  });

  it('other agent-supplied text (room topic, display name, metadata) is also returned verbatim as JSON', async () => {
    const room = await http.patch(`/v1/rooms/${roomId}`, { topic: SCRIPT }, alice.jwt);
    expect(room.status).toBe(200);
    expectJsonOnly(room);
    expect(room.body.topic).toBe(SCRIPT);
    const listed = await http.get('/v1/rooms', bob.jwt);
    expectJsonOnly(listed);
    expect(listed.body.items.find((r: { id: string }) => r.id === roomId).topic).toBe(SCRIPT);

    const agent = await http.patch(
      `/v1/agents/${bob.agent.id}`,
      { displayName: SCRIPT, metadata: { bio: SCRIPT, [SCRIPT]: true } },
      t.adminToken,
    );
    expect(agent.status).toBe(200);
    const members = await http.get(`/v1/rooms/${roomId}/members`, alice.jwt);
    expectJsonOnly(members);
    const me = await http.get('/v1/me', bob.jwt);
    expectJsonOnly(me);
    expect(me.body).toMatchObject({
      displayName: SCRIPT,
      metadata: { bio: SCRIPT, [SCRIPT]: true },
    });
  });
});
