import { Client, Pool, type PoolConfig } from 'pg';
import type { DataSource } from 'typeorm';
import { isDatabaseUnavailable } from '../../src/common/errors';
import { uuidv7 } from '../../src/common/uuid';
import { dataSourceOptions } from '../../src/database/data-source-options';
import type { MessageEntity } from '../../src/messages/message.entity';
import type { NewMessage } from '../../src/messages/append-statement';
import { MessageStore } from '../../src/messages/message-store';
import type { MessagesRepository } from '../../src/messages/messages.repository';
import { createTestDatabase } from '../support/test-database';

/**
 * MessageStore's own connection on a real PostgreSQL: opened with the pool's options on the first
 * batch, bound by the pool's query timeout, and closed at shutdown only after the statement in
 * flight has been answered.
 */
describe('MessageStore connection', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let observer: Client;
  let pool: Pool;
  let store: MessageStore;
  let agentId: string;
  let roomId: string;

  const message = (body: string): NewMessage => ({
    id: uuidv7(),
    roomId,
    senderId: agentId,
    body,
    dataJson: '{"n": 1}',
    replyTo: null,
    clientMsgId: null,
    bypassMembership: false,
  });

  /** Backends of this database opened with the hub's application_name. */
  async function hubBackends(): Promise<{ pid: number; state: string }[]> {
    const { rows } = await observer.query<{ pid: number; state: string }>(
      `SELECT pid, state FROM pg_stat_activity
        WHERE datname = current_database() AND application_name = 'agenthub' AND pid <> pg_backend_pid()`,
    );
    return rows;
  }

  beforeAll(async () => {
    database = await createTestDatabase();
    observer = new Client({ connectionString: database.url });
    await observer.connect();
    [agentId, roomId] = [uuidv7(), uuidv7()];
    await observer.query(`INSERT INTO agents (id, name) VALUES ($1, 'store-agent')`, [agentId]);
    await observer.query(
      `INSERT INTO rooms (id, name, visibility, created_by) VALUES ($1, 'store-room', 'public', $2)`,
      [roomId, agentId],
    );
    await observer.query(
      `INSERT INTO room_members (room_id, agent_id, role) VALUES ($1, $2, 'owner')`,
      [roomId, agentId],
    );
  });
  afterAll(async () => {
    await observer.end();
    await database.drop();
  });
  /** Holds the room's row lock in another session: appends wait for it inside PostgreSQL. */
  async function lockRoom(): Promise<Client> {
    const locker = new Client({ connectionString: database.url });
    await locker.connect();
    await locker.query('BEGIN');
    await locker.query('SELECT 1 FROM rooms WHERE id = $1 FOR UPDATE', [roomId]);
    return locker;
  }

  function newStore(extra: PoolConfig = {}): MessageStore {
    pool = new Pool({
      connectionString: database.url,
      ...(dataSourceOptions(database.url).extra as PoolConfig),
      ...extra,
    });
    // The store reads only the pool's options; the repository serves resends only.
    store = new MessageStore(
      { driver: { master: pool } } as unknown as DataSource,
      {} as MessagesRepository,
    );
    return store;
  }

  beforeEach(() => {
    newStore();
  });
  afterEach(async () => {
    await store.onApplicationShutdown();
    await pool.end();
  });

  it('opens one connection with the pool options on the first batch and keeps it', async () => {
    expect(await hubBackends()).toEqual([]);
    const [first] = await store.appendBatch([message('one')]);
    const [second] = await store.appendBatch([message('two')]);
    expect((first as MessageEntity).seq).toBeGreaterThan(0);
    expect((second as MessageEntity).seq).toBe((first as MessageEntity).seq + 1);
    expect((second as MessageEntity).data).toEqual({ n: 1 });
    expect((second as MessageEntity).createdAt).toBeInstanceOf(Date);
    // One backend, found by the pool's application_name: the pool's options travelled with it.
    expect(await hubBackends()).toHaveLength(1);
    expect(pool.totalCount).toBe(0); // no pooled connection was used
  });

  it('closes its connection at shutdown, after the statement in flight is answered', async () => {
    await store.appendBatch([message('warm')]);
    const [writer] = await hubBackends();
    // Hold the room's row lock: the next append waits for it inside PostgreSQL.
    const locker = new Client({ connectionString: database.url });
    await locker.connect();
    let pending: Promise<unknown[] | Error>;
    let shutdown: Promise<boolean>;
    let closed = false;
    try {
      await locker.query('BEGIN');
      await locker.query('SELECT 1 FROM rooms WHERE id = $1 FOR UPDATE', [roomId]);
      // Caught at once: should it fail, it must fail the test here, not as an unhandled rejection.
      pending = store.appendBatch([message('in flight')]).catch((e: Error) => e);
      for (let i = 0; i < 100; i += 1) {
        const { rows } = await observer.query<{ waiting: boolean }>(
          `SELECT wait_event_type = 'Lock' AS waiting FROM pg_stat_activity WHERE pid = $1`,
          [writer.pid],
        );
        if (rows[0]?.waiting) break;
        await new Promise((tick) => setTimeout(tick, 20));
      }
      shutdown = store.onApplicationShutdown().then(() => (closed = true));
      await new Promise((settle) => setTimeout(settle, 300));
      expect(closed).toBe(false); // still waiting for the statement
      expect(await hubBackends()).toHaveLength(1);
    } finally {
      await locker.query('COMMIT').catch(() => undefined);
      await locker.end();
    }
    const outcome = await pending;
    expect(outcome).not.toBeInstanceOf(Error);
    expect(((outcome as unknown[])[0] as MessageEntity).body).toBe('in flight');
    await shutdown;
    for (let i = 0; i < 50 && (await hubBackends()).length > 0; i += 1)
      await new Promise((tick) => setTimeout(tick, 20));
    expect(await hubBackends()).toEqual([]);
    const { rows } = await observer.query<{ n: string }>(
      `SELECT count(*) AS n FROM messages WHERE body = 'in flight'`,
    );
    expect(rows[0].n).toBe('1');
  });

  it("fails a statement that outlasts the pool's query timeout, then writes on a new connection", async () => {
    await store.onApplicationShutdown();
    await pool.end();
    newStore({ query_timeout: 400 });
    for (let i = 0; i < 3; i += 1) await store.appendBatch([message(`quick ${i}`)]);
    const [writer] = await hubBackends();
    // Most of a timeout after the first statement: a timer not re-armed would fire early.
    await new Promise((settle) => setTimeout(settle, 300));
    await store.appendBatch([message('re-arms')]);
    const locker = await lockRoom();
    let outcome: unknown;
    const started = Date.now();
    try {
      outcome = await store.appendBatch([message('too slow')]).catch((e: unknown) => e);
    } finally {
      await locker.query('ROLLBACK').catch(() => undefined);
      await locker.end();
    }
    expect(outcome).toBeInstanceOf(Error);
    expect((outcome as Error).message).toBe('Query read timeout');
    expect(isDatabaseUnavailable(outcome)).toBe(true);
    // Not before the timeout counted from this statement's start (quick ones re-armed it).
    expect(Date.now() - started).toBeGreaterThanOrEqual(380);
    const [after] = await store.appendBatch([message('after the timeout')]);
    expect((after as MessageEntity).body).toBe('after the timeout');
    // The old backend ends once it notices its client is gone; the new one stays.
    let pids = (await hubBackends()).map((b) => b.pid);
    for (let i = 0; i < 50 && pids.includes(writer.pid); i += 1) {
      await new Promise((tick) => setTimeout(tick, 20));
      pids = (await hubBackends()).map((b) => b.pid);
    }
    expect(pids).not.toContain(writer.pid);
    expect(pids).toHaveLength(1);
  });

  it('keeps a statement that answers in time, however long the store has been idle', async () => {
    await store.onApplicationShutdown();
    await pool.end();
    newStore({ query_timeout: 300 });
    await store.appendBatch([message('first')]);
    const [writer] = await hubBackends();
    // Idle past the timeout: the timer fires with nothing in flight and must not harm the next.
    await new Promise((settle) => setTimeout(settle, 450));
    const locker = await lockRoom();
    const pending = store.appendBatch([message('waits 150 ms')]).catch((e: unknown) => e);
    await new Promise((settle) => setTimeout(settle, 150));
    await locker.query('COMMIT');
    await locker.end();
    const outcome = await pending;
    expect(outcome).not.toBeInstanceOf(Error);
    expect(((outcome as unknown[])[0] as MessageEntity).body).toBe('waits 150 ms');
    expect((await hubBackends()).map((b) => b.pid)).toEqual([writer.pid]);
  });
});
