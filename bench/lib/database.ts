/**
 * PostgreSQL for the benchmark: an embedded cluster in a temporary folder (the EmbeddedPostgres
 * class AgentHub itself uses), or the server in DATABASE_URL, where two scratch databases whose
 * names contain "bench" are created and dropped again. Each server under test gets its own
 * database with the same schema: AgentHub migrates its own at start-up; the baseline's is built
 * here from the same migration classes.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, Pool } from 'pg';
import type { QueryRunner } from 'typeorm';
import { MIGRATIONS } from '../../migrations';
import { uuidv7 } from '../../src/common/uuid';
import { EmbeddedPostgres } from '../../src/database/embedded-postgres';

export interface BenchDatabases {
  mode: 'embedded' | 'external';
  agenthubUrl: string;
  baselineUrl: string;
  /** The postmaster's pid when we run the cluster (its process tree is the database's CPU). */
  postmasterPid: number | undefined;
  stop(): Promise<void>;
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

async function adminQuery(url: string, sql: string): Promise<void> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

export async function startDatabases(tempDir: string): Promise<BenchDatabases> {
  const external = process.env.DATABASE_URL;
  const suffix = `${Date.now().toString(36)}_${process.pid}`;
  if (external) {
    const names = [`agenthub_bench_${suffix}`, `baseline_bench_${suffix}`];
    for (const name of names) await adminQuery(external, `CREATE DATABASE ${name}`);
    return {
      mode: 'external',
      agenthubUrl: withDatabase(external, names[0]),
      baselineUrl: withDatabase(external, names[1]),
      postmasterPid: undefined,
      stop: async () => {
        for (const name of names) {
          await adminQuery(external, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(
            (error: unknown) => console.error(`could not drop ${name}:`, error),
          );
        }
      },
    };
  }
  const dataDir = join(tempDir, 'postgres');
  const embedded = new EmbeddedPostgres({ dataDir });
  await embedded.start();
  const admin = embedded.url('postgres');
  await adminQuery(admin, 'CREATE DATABASE agenthub_bench');
  await adminQuery(admin, 'CREATE DATABASE baseline_bench');
  const pidLine = readFileSync(join(dataDir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0];
  return {
    mode: 'embedded',
    agenthubUrl: embedded.url('agenthub_bench'),
    baselineUrl: embedded.url('baseline_bench'),
    postmasterPid: Number(pidLine) || undefined,
    stop: () => embedded.stop(),
  };
}

/** Applies AgentHub's migrations (plain SQL through `db.query`) to the baseline's database. */
export async function applySchema(url: string): Promise<void> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const runner = {
      query: async (sql: string, parameters?: unknown[]): Promise<unknown[]> =>
        (await client.query(sql, parameters)).rows as unknown[],
    } as unknown as QueryRunner;
    for (const Migration of MIGRATIONS) await new Migration().up(runner);
  } finally {
    await client.end();
  }
}

/** Direct SQL on a bench database: seeding the baseline and pre-filling history rooms. */
export class BenchSql {
  private readonly pool: Pool;

  constructor(url: string) {
    this.pool = new Pool({ connectionString: url, max: 2, application_name: 'bench-runner' });
  }

  async insertAgent(name: string): Promise<string> {
    const id = uuidv7();
    await this.pool.query(`INSERT INTO agents (id, name) VALUES ($1, $2)`, [id, name]);
    return id;
  }

  /** A public group room owned by `ownerId` (what POST /v1/rooms creates). */
  async insertRoom(name: string, ownerId: string): Promise<string> {
    const id = uuidv7();
    await this.pool.query(
      `INSERT INTO rooms (id, name, visibility, created_by) VALUES ($1, $2, 'public', $3)`,
      [id, name, ownerId],
    );
    await this.pool.query(
      `INSERT INTO room_members (room_id, agent_id, role) VALUES ($1, $2, 'owner')`,
      [id, ownerId],
    );
    return id;
  }

  /** Appends `count` messages of `bodyBytes` to a room, with gapless seqs after its last one. */
  async prefill(roomId: string, senderId: string, count: number, bodyBytes: number): Promise<void> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const { rows } = await client.query<{ last_seq: string }>(
        `UPDATE rooms SET last_seq = last_seq + $2 WHERE id = $1 RETURNING last_seq`,
        [roomId, count],
      );
      const first = Number(rows[0].last_seq) - count + 1;
      const body = `history message ${'h'.repeat(Math.max(0, bodyBytes - 20))}`;
      for (let i = 0; i < count; i += 1) {
        await client.query(
          `INSERT INTO messages (id, room_id, seq, sender_id, body) VALUES ($1, $2, $3, $4, $5)`,
          [uuidv7(), roomId, first + i, senderId, `${i} ${body}`],
        );
      }
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}

export function benchName(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}
