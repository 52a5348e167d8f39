/**
 * ECHO: a "database" that does no work. It answers every byte it receives on a Unix socket with
 * the same byte, so `raw-socketio-server.ts` with ROUND_TRIP_SOCKET waits for one round trip to
 * another process per message, as a server that stores first must (bench/run.ts: "raw socket.io
 * + round trip"). It runs on the load generator's core, where the embedded PostgreSQL runs (both
 * inherit the runner's). Environment: SOCKET (the Unix socket's path), PORT (HTTP, for /healthz
 * only), HOST (default 127.0.0.1).
 */
import { rmSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Socket } from 'node:net';
import { onShutdown, requiredEnv, sendError, sendJson } from './lib/server-common';

const socketPath = requiredEnv('SOCKET');
const port = Number(process.env.PORT ?? 3300);
const host = process.env.HOST ?? '127.0.0.1';

const clients = new Set<Socket>();
rmSync(socketPath, { force: true });
const echo = createServer((socket) => {
  clients.add(socket);
  socket.on('data', (chunk) => socket.write(chunk));
  socket.on('error', () => socket.destroy());
  socket.on('close', () => clients.delete(socket));
});

const health = createHttpServer((request, response) => {
  // Ready once the echo socket listens: the raw server connects to it at start-up.
  if (request.url === '/healthz' && echo.listening) sendJson(response, 200, { status: 'ok' });
  else sendError(response, 404, 'not_found', 'not found');
});

echo.listen(socketPath, () => {
  health.listen(port, host, () => console.log(`echo on ${socketPath}, /healthz on ${port}`));
});

onShutdown(async () => {
  for (const client of clients) client.destroy();
  await new Promise((closed) => echo.close(closed));
  await new Promise((closed) => health.close(closed));
});
