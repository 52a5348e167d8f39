/**
 * A minimal socket.io v4 client over `ws` (websocket transport only, no reconnection), for the
 * load generator's subscribers and idle connections. It speaks the same wire protocol as
 * socket.io-client (engine.io v4 open/ping/pong, socket.io CONNECT with auth, EVENT, ACK), so the
 * server cannot tell the difference, but it hands `message:new` frames over as raw bytes instead
 * of decoding them: one load-generator core can then absorb far more deliveries than the server
 * under test produces, which keeps the client from being the bottleneck at 100 subscribers.
 */
import WebSocket from 'ws';
import type { ClientToServerEvents } from '../../src/contracts/socket-events';

type EventName = keyof ClientToServerEvents;
type PayloadOf<E extends EventName> = Parameters<ClientToServerEvents[E]>[0];
type AckOf<E extends EventName> = Parameters<
  NonNullable<Parameters<ClientToServerEvents[E]>[1]>
>[0];

const CHAR_0 = 0x30;
const ENGINE_OPEN = 0x30; // '0'
const ENGINE_CLOSE = 0x31; // '1'
const ENGINE_PING = 0x32; // '2'
const ENGINE_MESSAGE = 0x34; // '4'
const IO_CONNECT = 0x30; // '0'
const IO_DISCONNECT = 0x31; // '1'
const IO_EVENT = 0x32; // '2'
const IO_ACK = 0x33; // '3'
const IO_CONNECT_ERROR = 0x34; // '4'

export interface LiteSocketOptions {
  /** http://host:port of the server. */
  url: string;
  /** The JWT sent as `auth.token` in the socket.io CONNECT packet. */
  token: string;
  timeoutMs: number;
  /** Receives every server EVENT frame (`42[...]`) as the raw bytes of the WebSocket message. */
  onEvent?: (frame: Buffer) => void;
  onClose?: () => void;
}

export class LiteSocket {
  private nextAckId = 0;
  private readonly pending = new Map<number, (response: unknown) => void>();
  private connected = false;
  private closedByUs = false;

  private constructor(
    private readonly ws: WebSocket,
    private readonly options: LiteSocketOptions,
  ) {}

  /** Opens the WebSocket and completes the engine.io and socket.io handshakes. */
  static connect(options: LiteSocketOptions): Promise<LiteSocket> {
    const endpoint = `${options.url.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`;
    const ws = new WebSocket(endpoint, { perMessageDeflate: false });
    const socket = new LiteSocket(ws, options);
    return new Promise<LiteSocket>((resolve, reject) => {
      let settled = false;
      const settle = (error?: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (error) {
          socket.close();
          reject(error);
        } else resolve(socket);
      };
      const timer = setTimeout(() => settle(new Error('handshake timed out')), options.timeoutMs);
      socket.onHandshake = settle;
      ws.on('message', (data: Buffer) => socket.receive(data));
      ws.on('error', (error) => settle(error));
      ws.on('close', () => {
        socket.connected = false;
        settle(new Error('closed during handshake'));
        for (const resolvePending of socket.pending.values())
          resolvePending({ ok: false, error: { code: 'unavailable', message: 'socket closed' } });
        socket.pending.clear();
        if (!socket.closedByUs) socket.options.onClose?.();
      });
    });
  }

  get isConnected(): boolean {
    return this.connected;
  }

  /** Emits a client event with an ack and resolves with the server's answer. */
  emitWithAck<E extends EventName>(
    event: E,
    payload: PayloadOf<E>,
    timeoutMs: number,
  ): Promise<AckOf<E>> {
    const id = this.nextAckId++;
    return new Promise<AckOf<E>>((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve({
          ok: false,
          error: { code: 'unavailable', message: 'ack timed out' },
        } as AckOf<E>);
      }, timeoutMs);
      this.pending.set(id, (response) => {
        clearTimeout(timer);
        resolve(response as AckOf<E>);
      });
      this.ws.send(`42${id}${JSON.stringify([event, payload])}`);
    });
  }

  close(): void {
    this.closedByUs = true;
    this.connected = false;
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING)
      this.ws.terminate();
  }

  private onHandshake: (error?: Error) => void = () => undefined;

  private receive(data: Buffer): void {
    switch (data[0]) {
      case ENGINE_MESSAGE:
        this.receivePacket(data);
        return;
      case ENGINE_PING:
        this.ws.send('3');
        return;
      case ENGINE_OPEN:
        this.ws.send(`40${JSON.stringify({ token: this.options.token })}`);
        return;
      case ENGINE_CLOSE:
        this.ws.close();
        return;
      default:
        return;
    }
  }

  private receivePacket(data: Buffer): void {
    switch (data[1]) {
      case IO_EVENT:
        this.options.onEvent?.(data);
        return;
      case IO_ACK: {
        let index = 2;
        let id = 0;
        while (index < data.length && data[index] >= CHAR_0 && data[index] <= CHAR_0 + 9) {
          id = id * 10 + (data[index] - CHAR_0);
          index += 1;
        }
        const resolvePending = this.pending.get(id);
        if (!resolvePending) return;
        this.pending.delete(id);
        const args = JSON.parse(data.toString('utf8', index)) as unknown[];
        resolvePending(args[0]);
        return;
      }
      case IO_CONNECT:
        this.connected = true;
        this.onHandshake();
        return;
      case IO_CONNECT_ERROR: {
        const body = JSON.parse(data.toString('utf8', 2)) as {
          message?: string;
          data?: { code?: string };
        };
        this.onHandshake(
          new Error(`connect_error: ${body.data?.code ?? ''} ${body.message ?? ''}`),
        );
        return;
      }
      case IO_DISCONNECT:
        this.ws.close();
        return;
      default:
        return;
    }
  }
}
