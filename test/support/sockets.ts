import { io, Socket } from 'socket.io-client';
import type { ClientToServerEvents, ServerToClientEvents } from '../../src/contracts/socket-events';

export type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

const open: ClientSocket[] = [];

/**
 * Connects over loopback with a JWT (websocket transport, like agents do, unless `transports`
 * says otherwise); resolves once connected.
 */
export async function connectSocket(
  url: string,
  token: string | undefined,
  options: { origin?: string; transports?: string[] } = {},
): Promise<ClientSocket> {
  const socket: ClientSocket = io(url, {
    auth: token === undefined ? {} : { token },
    transports: options.transports ?? ['websocket'],
    reconnection: false,
    forceNew: true,
    extraHeaders: options.origin ? { origin: options.origin } : undefined,
  });
  open.push(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', (error) => reject(error));
  });
  return socket;
}

/** The connect_error a handshake fails with. */
export function connectError(
  url: string,
  token: string | undefined,
  options: { origin?: string } = {},
): Promise<Error & { data?: any }> {
  const socket: ClientSocket = io(url, {
    auth: token === undefined ? {} : { token },
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    extraHeaders: options.origin ? { origin: options.origin } : undefined,
  });
  open.push(socket);
  return new Promise((resolve, reject) => {
    socket.once('connect', () =>
      reject(new Error('connected, but a handshake error was expected')),
    );
    socket.once('connect_error', (error) => resolve(error as Error & { data?: any }));
  });
}

/** Emits a client event and resolves with its ack. */
export function request<T = any>(
  socket: ClientSocket,
  event: string,
  payload: unknown,
  timeoutMs = 5000,
): Promise<T> {
  return (socket as any).timeout(timeoutMs).emitWithAck(event, payload) as Promise<T>;
}

/** Collects every `event` the socket receives, for assertions after the fact. */
export function collect<T = any>(socket: ClientSocket, event: string): T[] {
  const seen: T[] = [];
  (socket as any).on(event, (payload: T) => seen.push(payload));
  return seen;
}

export function nextEvent<T = any>(
  socket: ClientSocket,
  event: string,
  timeoutMs = 5000,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no ${event} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    (socket as any).once(event, (payload: T) => {
      clearTimeout(timer);
      resolve(payload);
    });
  });
}

export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 20));
  }
}

export function closeAllSockets(): void {
  while (open.length > 0) open.pop()!.disconnect();
}
