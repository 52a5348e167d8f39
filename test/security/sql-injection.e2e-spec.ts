import { performance } from 'node:perf_hooks';
import { Client } from 'pg';
import { ERROR_STATUS, type ErrorCode } from '../../src/common/errors';
import { createAgent, exchange, TestAgent } from '../factories/agents';
import { Http, HttpResult } from '../support/http';
import { closeAllSockets, ClientSocket, connectSocket, request } from '../support/sockets';
import { bootTestApp, TestApp } from '../support/test-app';

/**
 * Pen-test checklist: "SQL Injection: Test all endpoints with payloads like ' OR '1'='1,
 * '; DROP TABLE agents--". Every REST route gets each payload in every path, query and body
 * parameter, and every socket.io client event in every field. Expected: a contract answer (never
 * 500), no request slow enough to have run pg_sleep(3), the schema intact, accepted text stored
 * and returned verbatim.
 */

const LONG = `' OR '1'='1' -- ${'A'.repeat(5000)}`;
const NUL = "a\u0000b'; DROP TABLE agents--";
const PAYLOADS: string[] = [
  "' OR '1'='1",
  "'; DROP TABLE agents--",
  '1; SELECT pg_sleep(3)--',
  "'; SELECT pg_sleep(3); --",
  "' UNION SELECT id, name, role, NULL FROM agents--",
  '1) OR (1=1',
  "\\'; DROP TABLE messages; --",
  '$1 :id :...ids',
  '\\x00',
  "' OR 'ü'='ü' -- 🤖 中文 \u202e",
  LONG,
];
/** Path parameters: the long payload is covered by its own test (Fastify's parameter cap). */
const PATH_PAYLOADS = PAYLOADS.filter((p) => p !== LONG);
/**
 * Non-string values where strings are expected: type confusion in JSON bodies. `false` rather than
 * `true`: `{disabled: true}` is a legitimate request.
 */
const SHAPES: unknown[] = [["' OR '1'='1"], { $ne: null, "' OR '1'='1": 1 }, 1e308, false];

const ALLOWED = new Set([200, 201, 204, 400, 401, 403, 404, 409]);
const WS_CODES = new Set([
  'validation_failed',
  'unauthorized',
  'forbidden',
  'not_found',
  'conflict',
]);
const MAX_MS = 2000;
const CONCURRENCY = 4;
const TABLES = [
  'agents',
  'api_tokens',
  'jwt_revocations',
  'audit_events',
  'rooms',
  'room_members',
  'messages',
];

interface Case {
  label: string;
  method: string;
  path: string;
  body?: unknown;
  /** On 2xx, the response must carry the injected value verbatim at this key. */
  echo?: { key: string; value: unknown };
}

interface WsCase {
  label: string;
  event: string;
  payload: unknown;
  /** On ok:true, the stored message must carry the injected value verbatim at this key. */
  echo?: { key: string; value: unknown };
}

/** A path with `{}` where the payload goes, and the body the route needs otherwise. */
type PathTemplate = [method: string, template: string, body?: unknown];

/** A body field of a route, with the other fields a valid request needs. */
interface BodyField {
  method: string;
  path: string;
  field: string;
  base?: () => Record<string, unknown>;
  /** A 2xx must return the value verbatim (stored text); otherwise only the status is checked. */
  echo?: boolean;
}

const q = encodeURIComponent;
const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64url');

/** JSON text with object keys sorted: jsonb keeps its own key order, not the client's. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

function isContractError(status: number, body: any): boolean {
  return (
    !!body &&
    typeof body === 'object' &&
    body.statusCode === status &&
    typeof body.message === 'string' &&
    ERROR_STATUS[body.code as ErrorCode] === status
  );
}

/** What is wrong with one response, or null: status, error shape, wall time, verbatim echo. */
function problem(c: Case, status: number, body: any, ms: number): Record<string, unknown> | null {
  const issues: string[] = [];
  if (!ALLOWED.has(status)) issues.push(`status ${status}`);
  if (ms > MAX_MS) issues.push(`took ${Math.round(ms)} ms`);
  if (status >= 400 && !isContractError(status, body)) {
    issues.push('error body not in the contract shape');
  } else if (status < 300 && c.echo && canonical(body?.[c.echo.key]) !== canonical(c.echo.value)) {
    issues.push(`${c.echo.key} not returned verbatim`);
  }
  if (issues.length === 0) return null;
  const message = typeof body?.message === 'string' ? body.message.slice(0, 100) : undefined;
  return { case: `${c.method} ${c.label}`, issues, code: body?.code, message };
}

/** Runs `work` over `items`, a few at a time, keeping the order of results. */
async function pooled<T, R>(
  items: T[],
  work: (item: T) => Promise<R>,
  concurrency = CONCURRENCY,
): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next;
      next += 1;
      results[index] = await work(items[index]);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return results;
}

function queryCases(path: string, params: string[]): Case[] {
  return params.flatMap((param) => [
    ...PAYLOADS.map((p) => ({
      label: `${path}?${param}`,
      method: 'GET',
      path: `${path}?${param}=${q(p)}`,
    })),
    // Repeated, the parameter parses to an array.
    {
      label: `${path}?${param} twice`,
      method: 'GET',
      path: `${path}?${param}=${q(PAYLOADS[0])}&${param}=1`,
    },
  ]);
}

/** Opaque cursors are base64url: the payload encoded the way a real cursor is. */
function cursorCases(path: string): Case[] {
  return PAYLOADS.map((p) => ({
    label: `${path}?cursor=<base64url>`,
    method: 'GET',
    path: `${path}?cursor=${b64(p)}`,
  }));
}

function pathCases(templates: PathTemplate[], payloads = PATH_PAYLOADS): Case[] {
  return templates.flatMap(([method, template, body]) =>
    payloads.map((p) => ({ label: template, method, path: template.replace('{}', q(p)), body })),
  );
}

function bodyCases(fields: BodyField[], values: unknown[] = [...PAYLOADS, ...SHAPES]): Case[] {
  return fields.flatMap(({ method, path, field, base, echo }) =>
    values.map((value) => ({
      label: `${path} {${field}}`,
      method,
      path,
      body: { ...(base?.() ?? {}), [field]: value },
      echo: echo ? { key: field, value } : undefined,
    })),
  );
}

describe('pen-test: SQL injection', () => {
  let t: TestApp;
  let http: Http;
  let agent: TestAgent;
  let victim: TestAgent;
  let adminRoom: string;
  let agentRoom: string;
  let agentsCreated = 0;
  const messageIds = new Set<string>();
  let unique = 0;
  const fresh = (prefix: string) => `${prefix}-${Date.now()}-${(unique += 1)}`;

  /** Counts what an accepted request created, for the row counts checked at the end. */
  async function track(c: Case, response: HttpResult): Promise<HttpResult> {
    if (response.status < 300 && c.method === 'POST') {
      if (c.path === '/v1/agents') agentsCreated += 1;
      if (c.path.endsWith('/messages')) messageIds.add(response.body.id);
    }
    return response;
  }

  /**
   * Sends every case with `token`; returns the responses that break a rule. PATCHes go one at a
   * time: each answers with the row it wrote, which a concurrent PATCH of the same row would change.
   */
  async function probe(cases: Case[], token: string | undefined): Promise<unknown[]> {
    const send = async (c: Case) => {
      const started = performance.now();
      const response = await track(
        c,
        await http.request(c.method, c.path, { token, body: c.body }),
      );
      return problem(c, response.status, response.body, performance.now() - started);
    };
    const found = [
      ...(await pooled(
        cases.filter((c) => c.method !== 'PATCH'),
        send,
      )),
      ...(await pooled(
        cases.filter((c) => c.method === 'PATCH'),
        send,
        1,
      )),
    ];
    return found.filter((p) => p !== null);
  }

  /** Every route that takes an id in its path, with a payload in place of one id. */
  const adminPathTemplates = (): PathTemplate[] => [
    ['GET', '/v1/agents/{}'],
    ['PATCH', '/v1/agents/{}', { displayName: 'x' }],
    ['POST', '/v1/agents/{}/tokens', { name: 'x' }],
    ['GET', '/v1/agents/{}/tokens'],
    ['POST', '/v1/agents/{}/revoke-sessions'],
    ['DELETE', '/v1/tokens/{}'],
  ];
  const roomPathTemplates = (roomId: string, self: string): PathTemplate[] => [
    ['GET', '/v1/rooms/{}'],
    ['PATCH', '/v1/rooms/{}', { topic: 'x' }],
    ['DELETE', '/v1/rooms/{}'],
    ['GET', '/v1/rooms/{}/members'],
    ['PUT', `/v1/rooms/{}/members/${self}`, {}],
    ['PUT', `/v1/rooms/${roomId}/members/{}`, {}],
    ['DELETE', `/v1/rooms/{}/members/${self}`],
    ['DELETE', `/v1/rooms/${roomId}/members/{}`],
    ['POST', '/v1/direct/{}'],
    ['GET', '/v1/rooms/{}/messages'],
    ['POST', '/v1/rooms/{}/messages', { body: 'x' }],
    ['GET', '/v1/rooms/{}/presence'],
  ];

  /** Every text field that is stored (and so reaches PostgreSQL as a value). */
  const adminTextFields = (): BodyField[] => {
    const agentPath = `/v1/agents/${victim.agent.id}`;
    return [
      {
        method: 'POST',
        path: '/v1/agents',
        field: 'displayName',
        echo: true,
        base: () => ({ name: fresh('sqli') }),
      },
      {
        method: 'POST',
        path: '/v1/agents',
        field: 'metadata',
        echo: true,
        base: () => ({ name: fresh('sqli') }),
      },
      { method: 'PATCH', path: agentPath, field: 'displayName', echo: true },
      { method: 'PATCH', path: agentPath, field: 'metadata', echo: true },
      { method: 'POST', path: `${agentPath}/tokens`, field: 'name', echo: true },
    ];
  };
  const roomTextFields = (roomId: string): BodyField[] => [
    {
      method: 'POST',
      path: '/v1/rooms',
      field: 'topic',
      echo: true,
      base: () => ({ name: fresh('sqli') }),
    },
    { method: 'PATCH', path: `/v1/rooms/${roomId}`, field: 'topic', echo: true },
    { method: 'POST', path: `/v1/rooms/${roomId}/messages`, field: 'body', echo: true },
    {
      method: 'POST',
      path: `/v1/rooms/${roomId}/messages`,
      field: 'data',
      echo: true,
      base: () => ({ body: 'x' }),
    },
    {
      method: 'POST',
      path: `/v1/rooms/${roomId}/messages`,
      field: 'clientMsgId',
      echo: true,
      base: () => ({ body: 'x' }),
    },
  ];

  /** A payload as a key and a value of a JSON object field (metadata, data). */
  const objectCases = (
    method: string,
    path: string,
    field: string,
    base = {},
    payloads = PAYLOADS,
  ): Case[] =>
    payloads.map((p) => {
      const value = { [p]: p, nested: { [p]: [p, { [p]: null }] } };
      return {
        label: `${path} {${field}: {<payload>: <payload>}}`,
        method,
        path,
        body: { ...base, [field]: value },
        echo: { key: field, value },
      };
    });

  function roomCases(roomId: string, self: string): Case[] {
    const roomPath = `/v1/rooms/${roomId}`;
    return [
      ...queryCases('/v1/rooms', ['cursor', 'limit', 'includeArchived']),
      ...cursorCases('/v1/rooms'),
      ...queryCases(`${roomPath}/messages`, ['after', 'before', 'limit']),
      ...pathCases(roomPathTemplates(roomId, self)),
      ...bodyCases([
        ...roomTextFields(roomId),
        { method: 'POST', path: '/v1/rooms', field: 'name' },
        {
          method: 'POST',
          path: '/v1/rooms',
          field: 'visibility',
          base: () => ({ name: fresh('sqli') }),
        },
        { method: 'PATCH', path: roomPath, field: 'name' },
        { method: 'PATCH', path: roomPath, field: 'visibility' },
        { method: 'PUT', path: `${roomPath}/members/${victim.agent.id}`, field: 'role' },
        {
          method: 'POST',
          path: `${roomPath}/messages`,
          field: 'replyTo',
          base: () => ({ body: 'x' }),
        },
      ]),
      ...objectCases('POST', `${roomPath}/messages`, 'data', { body: 'x' }),
    ];
  }

  beforeAll(async () => {
    t = await bootTestApp();
    http = new Http(t.url);
    agent = await createAgent(http, t.adminToken);
    victim = await createAgent(http, t.adminToken);
    adminRoom = (await http.post('/v1/rooms', { name: fresh('sqli-admin') }, t.adminToken)).body.id;
    agentRoom = (await http.post('/v1/rooms', { name: fresh('sqli-agent') }, agent.jwt)).body.id;
  });
  afterEach(() => closeAllSockets());
  afterAll(() => t.close());

  it('POST /v1/auth/token and the Authorization header answer 400/401, never more', async () => {
    expect(
      await probe(
        bodyCases([{ method: 'POST', path: '/v1/auth/token', field: 'apiToken' }]),
        undefined,
      ),
    ).toEqual([]);
    const statuses = await pooled(PAYLOADS, async (p) => {
      // A bearer credential is one header token of visible ASCII: quotes and semicolons stay.
      const credential = p.replace(/[^\x21-\x7e]+/g, '');
      const response = await http.get('/v1/me', undefined, {
        authorization: `Bearer ${credential}`,
      });
      return isContractError(response.status, response.body) ? response.status : -response.status;
    });
    expect(statuses.every((s) => s === 401)).toBe(true);
  });

  it('admin agent and token routes: path ids, list query, create and update bodies', async () => {
    const agentPath = `/v1/agents/${victim.agent.id}`;
    const cases: Case[] = [
      ...queryCases('/v1/agents', ['cursor', 'limit']),
      ...cursorCases('/v1/agents'),
      ...pathCases(adminPathTemplates()),
      ...bodyCases([
        ...adminTextFields(),
        { method: 'POST', path: '/v1/agents', field: 'name' },
        {
          method: 'POST',
          path: '/v1/agents',
          field: 'role',
          base: () => ({ name: fresh('sqli') }),
        },
        { method: 'PATCH', path: agentPath, field: 'role' },
        { method: 'PATCH', path: agentPath, field: 'disabled' },
        { method: 'PATCH', path: agentPath, field: 'rateLimits' },
        {
          method: 'POST',
          path: `${agentPath}/tokens`,
          field: 'expiresAt',
          base: () => ({ name: 'x' }),
        },
      ]),
      ...objectCases('POST', '/v1/agents', 'metadata').map((c) => ({
        ...c,
        body: { ...(c.body as object), name: fresh('sqli') },
      })),
      ...objectCases('PATCH', agentPath, 'metadata'),
      ...[...PAYLOADS, ...SHAPES].flatMap((value) => [
        {
          label: `${agentPath} {rateLimits: {restPerMinute}}`,
          method: 'PATCH',
          path: agentPath,
          body: { rateLimits: { restPerMinute: value } },
        },
        {
          label: `${agentPath} {rateLimits: {wsEventsPerSecond}}`,
          method: 'PATCH',
          path: agentPath,
          body: { rateLimits: { wsEventsPerSecond: value } },
        },
      ]),
    ];
    expect(await probe(cases, t.adminToken)).toEqual([]);
    // No payload disabled the victim, promoted it or changed its limits.
    const after = await http.get(agentPath, t.adminToken);
    expect(after.body).toMatchObject({ role: 'agent', disabled: false, rateLimits: null });
    expect((await http.get('/v1/me', victim.jwt)).status).toBe(200);
  });

  it('admin audit query: type, agentId, since, until, cursor, limit', async () => {
    const cases = [
      ...queryCases('/v1/audit-events', ['type', 'agentId', 'since', 'until', 'cursor', 'limit']),
      ...cursorCases('/v1/audit-events'),
    ];
    expect(await probe(cases, t.adminToken)).toEqual([]);
  });

  it('rooms, members, messages and presence as an admin', async () => {
    expect(await probe(roomCases(adminRoom, 'x'), t.adminToken)).toEqual([]);
  });

  it('the same routes as a plain agent, plus /v1/me and logout; admin routes stay 403', async () => {
    const cases: Case[] = [
      ...roomCases(agentRoom, agent.agent.id),
      { label: '/v1/me', method: 'GET', path: '/v1/me' },
      ...pathCases(adminPathTemplates()),
      ...queryCases('/v1/audit-events', ['type', 'agentId']),
    ];
    expect(await probe(cases, agent.jwt)).toEqual([]);
    expect((await http.get(`/v1/audit-events?type=${q(PAYLOADS[0])}`, agent.jwt)).status).toBe(403);
    expect((await http.get(`/v1/agents/${q(PAYLOADS[1])}`, agent.jwt)).status).toBe(403);
    const throwaway = await exchange(http, agent.apiToken);
    const logout = await http.post('/v1/auth/logout', { "' OR '1'='1": 1 }, throwaway);
    expect(logout.status).toBe(204);
    expect((await http.get('/v1/me', throwaway)).status).toBe(401);
  });

  it('returns stored message bodies verbatim in the history, injection text included', async () => {
    const history = await http.get(`/v1/rooms/${adminRoom}/messages?limit=200`, t.adminToken);
    expect(history.status).toBe(200);
    const bodies = new Set(history.body.items.map((m: { body: string }) => m.body));
    for (const p of PAYLOADS) expect(bodies.has(p)).toBe(true);
  });

  it('answers 400 validation_failed, not 500, to a U+0000 in any stored text field or path id', async () => {
    const cases: Case[] = [
      ...bodyCases([...adminTextFields(), ...roomTextFields(adminRoom)], [NUL]),
      ...objectCases('PATCH', `/v1/agents/${victim.agent.id}`, 'metadata', {}, [NUL]),
      ...objectCases('POST', `/v1/rooms/${adminRoom}/messages`, 'data', { body: 'x' }, [NUL]),
      ...pathCases([...adminPathTemplates(), ...roomPathTemplates(adminRoom, 'x')], [NUL]),
    ];
    const found = await pooled(cases, async (c) => {
      const response = await track(
        c,
        await http.request(c.method, c.path, { token: t.adminToken, body: c.body }),
      );
      return [400, 404].includes(response.status) && isContractError(response.status, response.body)
        ? null
        : { case: `${c.method} ${c.label}`, status: response.status, code: response.body?.code };
    });
    expect(found.filter((f) => f !== null)).toEqual([]);
  });

  it('answers 400 validation_failed, not 500, to an after/before beyond PostgreSQL bigint', async () => {
    const answers = [];
    for (const value of ['9223372036854775808', '99999999999999999999'])
      for (const param of ['after', 'before']) {
        const path = `/v1/rooms/${adminRoom}/messages?${param}=${value}`;
        const response = await http.get(path, t.adminToken);
        answers.push({ param, value, status: response.status, code: response.body?.code });
      }
    expect(answers).toEqual(answers.map((a) => ({ ...a, status: 400, code: 'validation_failed' })));
  });

  it('answers an over-long path id in the contract shape (404 or 414), with the security headers', async () => {
    const templates = [...adminPathTemplates(), ...roomPathTemplates(adminRoom, 'x')];
    const found = await pooled(pathCases(templates, [LONG]), async (c) => {
      const response = await http.request(c.method, c.path, { token: t.adminToken, body: c.body });
      const body = response.body;
      const shaped =
        body?.statusCode === response.status &&
        typeof body?.message === 'string' &&
        typeof ERROR_STATUS[body?.code as ErrorCode] === 'number';
      const ok =
        [404, 414].includes(response.status) &&
        shaped &&
        response.headers.get('x-content-type-options') === 'nosniff';
      return ok
        ? null
        : { case: `${c.method} ${c.label}`, status: response.status, code: body?.code };
    });
    expect(found.filter((f) => f !== null)).toEqual([]);
  });

  describe('over socket.io', () => {
    let socket: ClientSocket;

    /** Emits each case; an ack must be a contract error, or ok:true with the value verbatim. */
    async function probeWs(cases: WsCase[]): Promise<unknown[]> {
      const found = await pooled(cases, async (c) => {
        const started = performance.now();
        const ack: any = await request(socket, c.event, c.payload);
        const ms = performance.now() - started;
        const issues: string[] = [];
        if (ms > MAX_MS) issues.push(`took ${Math.round(ms)} ms`);
        if (ack?.ok === true) {
          if (ack.message?.id) messageIds.add(ack.message.id);
          if (c.echo && canonical(ack.message?.[c.echo.key]) !== canonical(c.echo.value))
            issues.push(`${c.echo.key} not stored verbatim`);
        } else if (!(ack?.ok === false && WS_CODES.has(ack.error?.code))) {
          issues.push(`ack ${JSON.stringify(ack)?.slice(0, 160)}`);
        }
        return issues.length > 0 ? { case: c.label, issues } : null;
      });
      return found.filter((f) => f !== null);
    }

    const values = [...PAYLOADS, ...SHAPES];
    /** `field` of `event` gets every value; the rest of the payload is valid. */
    const wsCases = (
      event: string,
      field: string,
      base: () => Record<string, unknown>,
      echo = false,
    ): WsCase[] =>
      values.map((value) => ({
        label: `${event} ${field}`,
        event,
        payload: { ...base(), [field]: value },
        echo: echo ? { key: field, value } : undefined,
      }));

    beforeEach(async () => {
      socket = await connectSocket(t.url, agent.jwt);
      expect((await request(socket, 'room:join', { roomId: agentRoom })).ok).toBe(true);
    });

    it('room:join, room:leave, presence:list, typing and auth:refresh refuse injected values cleanly', async () => {
      const cases: WsCase[] = [
        ...wsCases('room:join', 'roomId', () => ({})),
        ...wsCases('room:join', 'sinceSeq', () => ({ roomId: agentRoom })),
        ...wsCases('room:leave', 'roomId', () => ({})),
        ...wsCases('presence:list', 'roomId', () => ({})),
        ...wsCases('typing', 'roomId', () => ({})),
        ...wsCases('auth:refresh', 'token', () => ({})),
        ...PAYLOADS.map((p) => ({
          label: 'room:join with a bare string',
          event: 'room:join',
          payload: p,
        })),
      ];
      expect(await probeWs(cases)).toEqual([]);
      expect((await request(socket, 'presence:list', { roomId: agentRoom })).ok).toBe(true);
    });

    it('message:send stores injected text verbatim and refuses injected ids', async () => {
      const room = () => ({ roomId: agentRoom });
      const cases: WsCase[] = [
        ...wsCases('message:send', 'roomId', () => ({ body: 'x' })),
        ...wsCases('message:send', 'body', room, true),
        ...wsCases('message:send', 'data', () => ({ ...room(), body: 'x' }), true),
        ...wsCases('message:send', 'replyTo', () => ({ ...room(), body: 'x' })),
        // Prefixed: the same clientMsgId over REST would return the REST message instead.
        ...wsCases('message:send', 'clientMsgId', () => ({ ...room(), body: 'x' }), true).map(
          (c) => {
            const value = (c.payload as { clientMsgId: unknown }).clientMsgId;
            const prefixed = typeof value === 'string' ? `ws ${value}` : value;
            return {
              ...c,
              payload: { ...(c.payload as object), clientMsgId: prefixed },
              echo: { key: 'clientMsgId', value: prefixed },
            };
          },
        ),
        ...PAYLOADS.map((p) => ({
          label: 'message:send data {<payload>: <payload>}',
          event: 'message:send',
          payload: { ...room(), body: 'x', data: { [p]: p } },
          echo: { key: 'data', value: { [p]: p } },
        })),
      ];
      expect(await probeWs(cases)).toEqual([]);
      const history = await http.get(`/v1/rooms/${agentRoom}/messages?limit=200`, agent.jwt);
      const bodies = new Set(history.body.items.map((m: { body: string }) => m.body));
      for (const p of PAYLOADS) expect(bodies.has(p)).toBe(true);
    });

    it('room:join answers validation_failed, not internal, to a sinceSeq beyond bigint', async () => {
      const acks = [];
      for (const sinceSeq of [2 ** 63, 1e20]) {
        acks.push(await request(socket, 'room:join', { roomId: agentRoom, sinceSeq }));
      }
      expect(acks.map((ack) => ack.error?.code)).toEqual([
        'validation_failed',
        'validation_failed',
      ]);
    });

    it('message:send answers validation_failed, not internal, to a U+0000 in body, data or clientMsgId', async () => {
      const base = { roomId: agentRoom, body: 'x' };
      const acks: any[] = [];
      for (const payload of [
        { ...base, body: NUL },
        { ...base, data: { text: NUL } },
        { ...base, data: { [NUL]: 1 } },
        { ...base, clientMsgId: NUL },
      ]) {
        acks.push(await request(socket, 'message:send', payload));
      }
      expect(acks.map((ack) => ack.error?.code)).toEqual(Array(4).fill('validation_failed'));
    });
  });

  it('afterwards every table exists and holds exactly the rows the accepted requests made', async () => {
    const db = new Client({ connectionString: t.databaseUrl });
    await db.connect();
    try {
      const tables = await db.query<{ table_name: string }>(
        `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'`,
      );
      expect(tables.rows.map((r) => r.table_name)).toEqual(expect.arrayContaining(TABLES));
      const count = async (sql: string, params: unknown[] = []) =>
        Number((await db.query<{ n: string }>(sql, params)).rows[0].n);
      // The bootstrap admin, the two factory agents, and every 201 of POST /v1/agents.
      expect(await count('SELECT count(*) AS n FROM agents')).toBe(3 + agentsCreated);
      expect(await count(`SELECT count(*) AS n FROM agents WHERE role = 'admin'`)).toBe(1);
      expect(await count('SELECT count(*) AS n FROM messages')).toBe(messageIds.size);
      // Sent by the admin and the agent over REST, and by the agent over socket.io.
      expect(await count('SELECT count(*) AS n FROM messages WHERE body = $1', [PAYLOADS[1]])).toBe(
        3,
      );
    } finally {
      await db.end();
    }
    expect((await http.get('/v1/me', agent.jwt)).status).toBe(200);
    expect((await http.get('/readyz')).status).toBe(200);
  });
});
