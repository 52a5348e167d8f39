import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { createAgent, TestAgent } from '../factories/agents';
import { Http } from '../support/http';
import { ClientSocket, closeAllSockets, connectSocket, request, waitFor } from '../support/sockets';
import { bootTestApp, TestApp } from '../support/test-app';

/** The app's pool size (src/database/data-source-options.ts) and how long each hog holds one. */
const POOL_SIZE = 20;
const HOLD_SECONDS = 4;

/**
 * Every pooled connection busy: REST callers wait at most the pool's connection timeout (3 s) and
 * get 503 `unavailable`, instead of queueing forever behind the busy ones; sends keep working on
 * the message writer's own connection (MessageStore); once the pool frees up, REST serves again.
 */
describe('fault: database pool exhausted', () => {
  let t: TestApp;
  let http: Http;
  let agent: TestAgent;
  let roomId: string;
  let socket: ClientSocket;
  let observer: Client;

  beforeAll(async () => {
    t = await bootTestApp();
    http = new Http(t.url);
    agent = await createAgent(http, t.adminToken);
    roomId = (await http.post('/v1/rooms', { name: 'pool' }, agent.jwt)).body.id;
    socket = await connectSocket(t.url, agent.jwt);
    await request(socket, 'room:join', { roomId });
    observer = new Client({ connectionString: t.databaseUrl });
    await observer.connect();
  });

  afterAll(async () => {
    closeAllSockets();
    await observer?.end();
    await t?.close();
  });

  it('answers REST 503 `unavailable` within the connection timeout while all connections are busy, keeps storing sends, then recovers', async () => {
    const database = new URL(t.databaseUrl).pathname.slice(1);
    const hogs = Array.from({ length: POOL_SIZE }, () =>
      t.app.get(DataSource).query(`SELECT pg_sleep(${HOLD_SECONDS})`),
    );
    const hogsDone = Promise.allSettled(hogs);
    await waitFor(
      async () => {
        const sleeping = await observer.query<{ n: string }>(
          `SELECT count(*) AS n FROM pg_stat_activity
            WHERE datname = $1 AND state = 'active' AND query LIKE 'SELECT pg_sleep%'`,
          [database],
        );
        return Number(sleeping.rows[0].n) === POOL_SIZE;
      },
      5000,
      `${POOL_SIZE} pooled connections busy`,
    );
    const exhaustedAt = Date.now();

    const timed = <T>(work: Promise<T>) =>
      work.then((value) => ({ value, ms: Date.now() - exhaustedAt }));
    const [rest, send] = await Promise.all([
      timed(http.get(`/v1/rooms/${roomId}/messages`, agent.jwt)),
      timed(request(socket, 'message:send', { roomId, body: 'pool busy' }, 10_000)),
    ]);
    console.log(
      `pool exhausted: REST ${rest.value.status} after ${rest.ms} ms, message:send acked after ${send.ms} ms`,
    );
    expect(rest.value.status).toBe(503);
    expect(rest.value.body).toEqual({
      statusCode: 503,
      code: 'unavailable',
      message: expect.any(String),
    });
    expect(send.value).toMatchObject({ ok: true, message: { body: 'pool busy' } });
    // Answered before the sleeps end: REST gave up, it did not wait for a connection.
    expect(rest.ms).toBeLessThan(HOLD_SECONDS * 1000);
    expect(send.ms).toBeLessThan(HOLD_SECONDS * 1000);
    expect((await http.get('/healthz')).status).toBe(200);

    // The hogs end (done, or cut by the query timeout); the pool serves again.
    await hogsDone;
    const after = await http.post(`/v1/rooms/${roomId}/messages`, { body: 'pool free' }, agent.jwt);
    expect(after.status).toBe(201);
    expect(after.body.seq).toBe(send.value.message.seq + 1);
    expect(await request(socket, 'message:send', { roomId, body: 'socket again' })).toMatchObject({
      ok: true,
      message: { seq: after.body.seq + 1 },
    });
    expect((await http.get('/readyz')).status).toBe(200);
  }, 30_000);
});
