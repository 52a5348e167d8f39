import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { EmbeddedPostgres } from '../../src/database/embedded-postgres';
import { createAgent, TestAgent } from '../factories/agents';
import { freePort } from '../../src/common/free-port';
import { Http } from '../support/http';
import {
  ClientSocket,
  closeAllSockets,
  collect,
  connectSocket,
  request,
  waitFor,
} from '../support/sockets';
import { bootTestApp, TestApp } from '../support/test-app';

/**
 * Runbook "Runlist: Database Down": PostgreSQL really stops under a running hub. Sends fail fast
 * with `unavailable` (never hang, never deliver), probes tell the truth, and the hub recovers by
 * itself once PostgreSQL is back on the same address — no restart, no lost or skipped seq.
 */
describe('fault: PostgreSQL outage', () => {
  let dataDir: string;
  let pg: EmbeddedPostgres;
  let t: TestApp;
  let http: Http;
  let alice: TestAgent;
  let bob: TestAgent;
  let roomId: string;
  let aliceSocket: ClientSocket;
  let bobSocket: ClientSocket;
  let frozen: string[] = [];

  /**
   * PostgreSQL hangs: TCP still connects, but nothing ever answers (a partition, a stuck host).
   * The postmaster stops first, so that it cannot fork a backend that would escape the freeze.
   */
  function freeze(): void {
    const postmaster = readFileSync(join(dataDir, 'pg', 'postmaster.pid'), 'utf8')
      .split('\n')[0]
      .trim();
    execFileSync('kill', ['-STOP', postmaster]);
    frozen = [postmaster];
    const children = execFileSync('pgrep', ['-P', postmaster]).toString().trim().split('\n');
    frozen.push(...children.filter((pid) => pid.length > 0));
    execFileSync('kill', ['-STOP', ...frozen]);
  }
  function thaw(): void {
    if (frozen.length > 0) execFileSync('kill', ['-CONT', ...frozen]);
    frozen = [];
  }

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'agenthub-db-outage-test-'));
    // As root, PostgreSQL runs as the postgres user, which must be able to enter this folder.
    chmodSync(dataDir, 0o755);
    // A fixed port, so the app's pool finds the server again at the same address after the restart.
    pg = new EmbeddedPostgres({ dataDir, port: await freePort() });
    await pg.start();
    const admin = new Client({ connectionString: pg.url('postgres') });
    await admin.connect();
    await admin.query('CREATE DATABASE agenthub_outage_test');
    await admin.end();
    t = await bootTestApp({}, { url: pg.url('agenthub_outage_test') });
    http = new Http(t.url);
    alice = await createAgent(http, t.adminToken);
    bob = await createAgent(http, t.adminToken);
    roomId = (await http.post('/v1/rooms', { name: 'outage' }, alice.jwt)).body.id;
    aliceSocket = await connectSocket(t.url, alice.jwt);
    bobSocket = await connectSocket(t.url, bob.jwt);
    await request(aliceSocket, 'room:join', { roomId });
    await request(bobSocket, 'room:join', { roomId });
  }, 60_000);

  afterAll(async () => {
    thaw();
    closeAllSockets();
    await t?.close();
    await pg?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('talks to its embedded PostgreSQL over the Unix socket in the cluster folder', async () => {
    expect(new URL(pg.url()).hostname).toBe(encodeURIComponent(join(dataDir, 'pg')));
    const [{ tcp }] = await t.app
      .get(DataSource)
      .query<{ tcp: boolean }[]>('SELECT inet_server_addr() IS NOT NULL AS tcp');
    expect(tcp).toBe(false);
  });

  it('refuses sends with `unavailable` within 5 s while PostgreSQL is down, then recovers without a restart', async () => {
    const atBob = collect(bobSocket, 'message:new');
    const before = await request(aliceSocket, 'message:send', { roomId, body: 'before' });
    expect(before).toMatchObject({ ok: true, message: { seq: 1 } });
    await waitFor(() => atBob.length === 1, 5000, 'delivery before the outage');

    await pg.stop();

    // A socket send answers, and answers `unavailable`, well inside the 5 s budget.
    const started = Date.now();
    const refused = await request(
      aliceSocket,
      'message:send',
      { roomId, body: 'during', clientMsgId: 'during-outage' },
      15_000,
    );
    const ackMs = Date.now() - started;
    console.log(`database down: message:send acked unavailable in ${ackMs} ms`);
    expect(refused).toEqual({
      ok: false,
      error: { code: 'unavailable', message: expect.any(String) },
    });
    expect(ackMs).toBeLessThan(5000);

    const restStarted = Date.now();
    const rest = await http.post(`/v1/rooms/${roomId}/messages`, { body: 'rest during' }, bob.jwt);
    const restMs = Date.now() - restStarted;
    console.log(`database down: REST POST message answered ${rest.status} in ${restMs} ms`);
    expect(rest.status).toBe(503);
    expect(rest.body).toEqual({
      statusCode: 503,
      code: 'unavailable',
      message: expect.any(String),
    });
    expect(restMs).toBeLessThan(5000);

    // /readyz shares one dependency check per second between callers: allow for that.
    await waitFor(async () => (await http.get('/readyz')).status === 503, 5000, '/readyz 503');
    const ready = await http.get('/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body).toEqual({ status: 'unavailable', checks: { database: 'down' } });
    expect(await http.get('/healthz')).toMatchObject({ status: 200, body: { status: 'ok' } });

    // Nothing that was refused reached anyone.
    await new Promise((settle) => setTimeout(settle, 300));
    expect(atBob.map((m: { body: string }) => m.body)).toEqual(['before']);
    // The sockets stayed connected through the outage.
    expect(aliceSocket.connected && bobSocket.connected).toBe(true);

    await pg.start();
    const restartedAt = Date.now();
    await waitFor(
      async () => (await http.get('/readyz')).status === 200,
      15_000,
      '/readyz 200 after PostgreSQL is back',
    );
    console.log(`database back: /readyz 200 after ${Date.now() - restartedAt} ms`);
    expect((await http.get('/readyz')).body).toEqual({ status: 'ok', checks: { database: 'up' } });

    // Same app, same sockets: the next sends get the next seq (the refused ones took none).
    const after = await request(aliceSocket, 'message:send', {
      roomId,
      body: 'during',
      clientMsgId: 'during-outage',
    });
    expect(after).toMatchObject({ ok: true, message: { seq: 2, body: 'during' } });
    const viaRest = await http.post(
      `/v1/rooms/${roomId}/messages`,
      { body: 'rest after' },
      bob.jwt,
    );
    expect(viaRest.status).toBe(201);
    expect(viaRest.body.seq).toBe(3);
    await waitFor(() => atBob.length === 3, 5000, 'delivery after recovery');
    expect(atBob.map((m: { seq: number }) => m.seq)).toEqual([1, 2, 3]);

    const history = await http.get(`/v1/rooms/${roomId}/messages`, alice.jwt);
    expect(history.body.items.map((m: { seq: number; body: string }) => [m.seq, m.body])).toEqual([
      [1, 'before'],
      [2, 'during'],
      [3, 'rest after'],
    ]);
  }, 60_000);

  it('refuses sends with `unavailable` within 5 s while PostgreSQL hangs without answering, then recovers', async () => {
    const hungRoom = (await http.post('/v1/rooms', { name: 'hung' }, alice.jwt)).body.id;
    await request(aliceSocket, 'room:join', { roomId: hungRoom });
    await request(bobSocket, 'room:join', { roomId: hungRoom });
    const atBob = collect(bobSocket, 'message:new');
    expect(
      await request(aliceSocket, 'message:send', { roomId: hungRoom, body: 'one' }),
    ).toMatchObject({ ok: true, message: { seq: 1 } });
    await waitFor(() => atBob.length === 1, 5000, 'delivery before the hang');

    freeze();
    const started = Date.now();
    const timed = <T>(work: Promise<T>, from = started) =>
      work.then((value) => ({ value, ms: Date.now() - from }));
    // The send goes first, onto a pooled connection whose server no longer answers (the usual
    // case: the pool keeps idle connections); REST and the probe follow while it waits.
    const sending = timed(
      request(
        aliceSocket,
        'message:send',
        { roomId: hungRoom, body: 'two', clientMsgId: 'during-hang' },
        15_000,
      ),
    );
    await new Promise((first) => setTimeout(first, 200));
    const [socketSend, restSend, ready] = await Promise.all([
      sending,
      timed(http.post(`/v1/rooms/${hungRoom}/messages`, { body: 'rest two' }, bob.jwt), Date.now()),
      timed(
        waitFor(
          async () => (await http.get('/readyz')).status === 503,
          5000,
          '/readyz 503 while PostgreSQL hangs',
        ),
      ),
    ]);
    console.log(
      `database hung: message:send acked in ${socketSend.ms} ms, REST ${restSend.value.status} in ${restSend.ms} ms, /readyz 503 after ${ready.ms} ms`,
    );
    expect(socketSend.value).toEqual({
      ok: false,
      error: { code: 'unavailable', message: expect.any(String) },
    });
    expect(socketSend.ms).toBeLessThan(5000);
    expect(restSend.value.status).toBe(503);
    expect(restSend.value.body.code).toBe('unavailable');
    // REST has no 5 s promise of its own, but it must fail fast too, not wait for the database.
    expect(restSend.ms).toBeLessThan(6000);
    // One cached check (1 s) plus one ping (2 s timeout) at most.
    expect(ready.ms).toBeLessThan(3500);
    expect((await http.get('/healthz')).status).toBe(200);
    thaw();

    await waitFor(
      async () => (await http.get('/readyz')).status === 200,
      15_000,
      '/readyz 200 after PostgreSQL answers again',
    );
    const again = await request(aliceSocket, 'message:send', {
      roomId: hungRoom,
      body: 'two',
      clientMsgId: 'during-hang',
    });
    expect(again).toMatchObject({ ok: true, message: { seq: 2 } });
    await waitFor(() => atBob.length === 2, 5000, 'delivery after the hang');
    expect(atBob.map((m: { seq: number }) => m.seq)).toEqual([1, 2]);
  }, 60_000);
});
