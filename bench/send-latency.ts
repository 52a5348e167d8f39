/**
 * Send-to-ack latency of a simple sequential loop (issue "Real-time messaging"): starts the built
 * server (`npm run build` first) on embedded PostgreSQL, or on DATABASE_URL when set, then sends
 * N messages one after another over socket.io and prints p50/p90/p99/max in milliseconds.
 *
 *   npm run bench:latency            # 1,000 sends
 *   SENDS=5000 npm run bench:latency
 */
import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { io, Socket } from 'socket.io-client';
import { generateApiToken } from '../src/auth/api-token';
import type { ClientToServerEvents, ServerToClientEvents } from '../src/contracts/socket-events';
import { serverNodeFlags } from './lib/node-flags';

const SENDS = Number(process.env.SENDS ?? 1000);
const WARMUP = 100;
const PORT = Number(process.env.BENCH_PORT ?? 3917);
const base = `http://127.0.0.1:${PORT}`;

async function api<T>(method: string, path: string, token: string, body?: unknown): Promise<T> {
  const response = await fetch(base + path, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok)
    throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

/** With DATABASE_URL, a scratch database on that server (never the named database itself). */
async function scratchDatabase(): Promise<{ url: string | undefined; drop: () => Promise<void> }> {
  const server = process.env.DATABASE_URL;
  if (!server) return { url: undefined, drop: () => Promise.resolve() };
  const name = `agenthub_bench_latency_${process.pid}`;
  const admin = async (sql: string) => {
    const client = new Client({ connectionString: server });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await admin(`CREATE DATABASE ${name}`);
  const url = new URL(server);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

async function startServer(
  adminToken: string,
  dataDir: string,
  databaseUrl: string | undefined,
): Promise<ChildProcess> {
  // As `npm start` runs it: with package.json's config.nodeFlags.
  const child = spawn(process.execPath, [...serverNodeFlags(process.cwd()), 'dist/src/main.js'], {
    env: {
      ...process.env,
      ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
      PORT: String(PORT),
      HOST: '127.0.0.1',
      AGENTHUB_DATA_DIR: dataDir,
      ADMIN_API_TOKEN: adminToken,
      LOG_LEVEL: 'warn',
      RATE_LIMIT_WS_EVENTS: '100000',
      RATE_LIMIT_REST_AUTH: '1000000',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  for (let i = 0; i < 600; i += 1) {
    try {
      if ((await fetch(`${base}/readyz`)).ok) return child;
    } catch {
      /* not listening yet */
    }
    await new Promise((done) => setTimeout(done, 100));
  }
  throw new Error('server did not become ready');
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function main(): Promise<void> {
  const adminToken = generateApiToken();
  const dataDir = mkdtempSync(join(tmpdir(), 'agenthub-bench-'));
  const database = await scratchDatabase();
  const server = await startServer(adminToken, dataDir, database.url);
  try {
    const agent = await api<{ id: string }>('POST', '/v1/agents', adminToken, {
      name: `bench-${Date.now()}`,
    });
    const token = await api<{ token: string }>(
      'POST',
      `/v1/agents/${agent.id}/tokens`,
      adminToken,
      { name: 'bench' },
    );
    const { accessToken } = await api<{ accessToken: string }>('POST', '/v1/auth/token', '', {
      apiToken: token.token,
    });
    const room = await api<{ id: string }>('POST', '/v1/rooms', accessToken, {
      name: `bench-${Date.now()}`,
    });
    const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io(base, {
      auth: { token: accessToken },
      transports: ['websocket'],
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('connect_error', reject);
    });
    await socket.emitWithAck('room:join', { roomId: room.id });
    const samples: number[] = [];
    for (let i = 0; i < WARMUP + SENDS; i += 1) {
      const started = process.hrtime.bigint();
      const ack = await socket.emitWithAck('message:send', {
        roomId: room.id,
        body: `message ${i}`,
      });
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      if (!ack.ok) throw new Error(`send failed: ${JSON.stringify(ack.error)}`);
      if (i >= WARMUP) samples.push(ms);
    }
    socket.disconnect();
    samples.sort((a, b) => a - b);
    const mean = samples.reduce((sum, x) => sum + x, 0) / samples.length;
    console.log(
      `sequential send-to-ack over ${SENDS} sends (after ${WARMUP} warm-up), ${process.env.DATABASE_URL ? 'DATABASE_URL' : 'embedded PostgreSQL'}: ` +
        `p50 ${percentile(samples, 50).toFixed(2)} ms, p90 ${percentile(samples, 90).toFixed(2)} ms, ` +
        `p99 ${percentile(samples, 99).toFixed(2)} ms, max ${samples[samples.length - 1].toFixed(2)} ms, mean ${mean.toFixed(2)} ms`,
    );
  } finally {
    server.kill('SIGTERM');
    await new Promise((done) => server.once('exit', done));
    rmSync(dataDir, { recursive: true, force: true });
    await database.drop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
