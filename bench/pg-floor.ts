/**
 * The floor under "server CPU per delivered message" (bench/run.ts): what one PostgreSQL round
 * trip costs the Node process that makes it, on this machine, at the CPU phase's rate. A message
 * stored before it is delivered needs at least one round trip; raw socket.io has none.
 *
 *   npm run bench:floor                          # embedded PostgreSQL, or DATABASE_URL when set
 *   npx ts-node --transpile-only bench/pg-floor.ts --rate=200 --window=3000 --rounds=8 --warmup=8000
 *   npx ts-node --transpile-only bench/pg-floor.ts --only=append      # timer and append only
 *
 * One process, pinned to core 1 like the servers, runs these operations `rate` times a second
 * from a timer, in turn (window by window, round after round, so machine noise hits each alike),
 * and reports the median CPU (utime + stime) per operation:
 *   - timer:  nothing; the timer's wake-up alone, the part any server pays per event anyway;
 *   - select: a bare pg Client running a prepared one-row SELECT: the least a round trip costs;
 *   - insert: a bare Client running a prepared INSERT … RETURNING, committed (a write waits for
 *             its WAL flush: the process sleeps longer and wakes colder than for a read);
 *   - insert-async: the same with synchronous_commit=off, only to show what the flush wait costs
 *             (AgentHub never does this: an ack promises the message is durable);
 *   - append: AgentHub's write (MessageStore.appendBatch of one message) on the store's own
 *             connection, opened with AgentHub's pool options: what the hub pays per message at
 *             low load;
 *   - append-pool: the same plus a pool checkout and release per operation, which is what the
 *             hub paid before the store had a connection of its own;
 *   - append-query: AgentHub's one-message statement through pg's Query (a row description per
 *             call, parameters through pg's writer, every column parsed), as the store ran it
 *             before callPrepared (src/database/prepared-call.ts).
 * Each is also given minus `timer`, which is the round trip's own cost. `--only=a,b` picks some.
 */
import { Client, Pool, type PoolConfig } from 'pg';
import type { DataSource } from 'typeorm';
import { uuidv7 } from '../src/common/uuid';
import { dataSourceOptions } from '../src/database/data-source-options';
import { APPEND_ONE, textParametersOf, type NewMessage } from '../src/messages/append-statement';
import { MessageStore } from '../src/messages/message-store';
import type { MessagesRepository } from '../src/messages/messages.repository';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applySchema, startDatabases } from './lib/database';
import { callPrepared } from '../src/database/prepared-call';
import { median } from './lib/histogram';
import { hasCommand, pin } from './lib/proc';

const SERVER_CORE = 1;

function flag(name: string, fallback: number): number {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  return arg ? Number(arg.slice(name.length + 3)) : fallback;
}

const rate = flag('rate', 200);
const windowMs = flag('window', 3000);
const rounds = flag('rounds', 8);
const warmupMs = flag('warmup', 8000);

function cpuMicros(): number {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
}

/** CPU µs per completed operation while `op` runs `rate` times a second for `ms`. */
async function measure(op: () => Promise<unknown>, ms: number): Promise<number> {
  const start = cpuMicros();
  const started = Date.now();
  let done = 0;
  await new Promise<void>((finish) => {
    const timer = setInterval(() => {
      void op().then(() => (done += 1));
      if (Date.now() - started >= ms) {
        clearInterval(timer);
        setTimeout(finish, 100);
      }
    }, 1000 / rate);
  });
  return (cpuMicros() - start) / done;
}

async function main(): Promise<void> {
  const pinned = hasCommand('taskset') && pin(process.pid, SERVER_CORE);
  const tempDir = mkdtempSync(join(tmpdir(), 'agenthub-floor-'));
  // As root, the embedded PostgreSQL runs as `postgres`, which must be able to traverse this.
  chmodSync(tempDir, 0o711);
  const databases = await startDatabases(tempDir);
  const url = databases.agenthubUrl;
  const client = new Client({ connectionString: url });
  const asyncClient = new Client({ connectionString: url, options: '-c synchronous_commit=off' });
  const pool = new Pool({
    connectionString: url,
    ...(dataSourceOptions(url).extra as PoolConfig),
  });
  // The store reads only the pool's options from the DataSource, and the repository only for
  // resends.
  const store = new MessageStore(
    { driver: { master: pool } } as unknown as DataSource,
    {} as MessagesRepository,
  );
  try {
    await applySchema(url);
    await client.connect();
    await asyncClient.connect();
    const [agentId, roomId] = [uuidv7(), uuidv7()];
    await client.query(`INSERT INTO agents (id, name) VALUES ($1, 'floor-agent')`, [agentId]);
    await client.query(
      `INSERT INTO rooms (id, name, visibility, created_by) VALUES ($1, 'floor-room', 'public', $2)`,
      [roomId, agentId],
    );
    await client.query(
      `INSERT INTO room_members (room_id, agent_id, role) VALUES ($1, $2, 'owner')`,
      [roomId, agentId],
    );
    const message = (): NewMessage => ({
      id: uuidv7(),
      roomId,
      senderId: agentId,
      body: 'a message of about the benchmark body size, 64 bytes long......',
      dataJson: null,
      replyTo: null,
      clientMsgId: null,
      bypassMembership: false,
    });
    const select = { name: 'floor_select', text: 'SELECT $1::uuid AS id, now() AS at' };
    const insert = {
      name: 'floor_insert',
      text: `INSERT INTO messages (id, room_id, seq, sender_id, body) VALUES ($1, $2, $3, $4, $5)
             RETURNING id, seq, data, created_at`,
    };
    // Seqs far above what the appends take (they claim from rooms.last_seq).
    let seq = 1_000_000_000;
    const insertOn = (on: Client) => () =>
      on.query({ ...insert, values: [uuidv7(), roomId, (seq += 1), agentId, 'a message body'] });
    const operations: Record<string, () => Promise<unknown>> = {
      timer: () => Promise.resolve(),
      select: () => client.query({ ...select, values: [uuidv7()] }),
      insert: insertOn(client),
      'insert-async': insertOn(asyncClient),
      append: () => store.appendBatch([message()]),
      'append-pool': async () => {
        (await pool.connect()).release();
        return store.appendBatch([message()]);
      },
      'append-call': () => callPrepared(client, APPEND_ONE, textParametersOf(message())),
      'append-query': () => client.query({ ...APPEND_ONE, values: textParametersOf(message()) }),
    };
    const only = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length);
    const names = only ? only.split(',') : Object.keys(operations);
    for (const name of names)
      if (!(name in operations)) throw new Error(`unknown operation ${name} (--only)`);
    if (!names.includes('timer')) names.unshift('timer');
    console.log(
      `${rate} operations/s, ${warmupMs} ms warm-up each, ${windowMs} ms windows, ${rounds} rounds, ` +
        `${pinned ? `pinned to core ${SERVER_CORE}` : 'not pinned'}, PostgreSQL ${databases.mode}`,
    );
    for (const name of names) await measure(operations[name], warmupMs); // V8 compiles meanwhile
    const samples: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
    for (let round = 0; round < rounds; round += 1)
      for (const name of names) samples[name].push(await measure(operations[name], windowMs));
    const timer = median(samples.timer) ?? 0;
    for (const name of names) {
      const value = median(samples[name]) ?? 0;
      console.log(
        `${name.padEnd(13)} ${value.toFixed(1).padStart(7)} µs CPU per operation` +
          (name === 'timer' ? '' : `, ${(value - timer).toFixed(1)} µs over the timer`) +
          `   (rounds: ${samples[name].map((v) => v.toFixed(0)).join(' ')})`,
      );
    }
  } finally {
    await client.end().catch(() => undefined);
    await asyncClient.end().catch(() => undefined);
    await store.onApplicationShutdown();
    await pool.end().catch(() => undefined);
    await databases.stop();
    rmSync(tempDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
