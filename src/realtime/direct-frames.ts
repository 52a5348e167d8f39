import type { Socket as TcpSocket } from 'node:net';
import type { Socket } from 'socket.io';

/** What socket.io's adapter passes with a broadcast's packets (BroadcastOptions' packet part). */
interface PacketOptions {
  volatile?: boolean;
  /** The WebSocket frame socket.io-adapter built once per broadcast: [header, payload]. */
  wsPreEncodedFrame?: Buffer[];
  [FRAME]?: Buffer;
}

/** The parts of an engine.io connection over WebSocket that decide whether a write may skip it. */
interface EngineConnection {
  readyState: string;
  upgrading: boolean;
  writeBuffer: unknown[];
  transport: {
    name: string;
    socket?: {
      readyState: number;
      _socket?: TcpSocket;
      _sender?: { _state: number; _queue: unknown[] };
    };
  };
}

interface SocketIoClient {
  conn: EngineConnection;
  writeToEngine(encodedPackets: unknown, opts: PacketOptions): void;
}

const FRAME = Symbol('agenthub.wsFrame');
const INSTALLED = Symbol('agenthub.directFrames');
/** ws's WebSocket.OPEN and Sender's DEFAULT state (no Blob being read, nothing deflating). */
const WS_OPEN = 1;
const SENDER_IDLE = 0;

/**
 * The TCP socket under a connection, when a frame written to it now goes out exactly as engine.io
 * would send it: the connection is open and not upgrading, it is on WebSocket, nothing waits in
 * engine.io's write buffer (so nothing written earlier would be overtaken), and ws's sender is
 * idle with an empty queue. Anything else takes engine.io's own path.
 */
export function directSocket(conn: EngineConnection): TcpSocket | undefined {
  if (conn.readyState !== 'open' || conn.upgrading || conn.writeBuffer.length !== 0)
    return undefined;
  const transport = conn.transport;
  if (transport.name !== 'websocket') return undefined;
  const ws = transport.socket;
  if (ws?.readyState !== WS_OPEN) return undefined;
  const sender = ws._sender;
  if (sender === undefined || sender._state !== SENDER_IDLE || sender._queue.length !== 0)
    return undefined;
  const tcp = ws._socket;
  return tcp?.writable === true ? tcp : undefined;
}

/** The one text packet socket.io encoded for a single socket (an ack, an emit), if that is all. */
function singleText(encodedPackets: unknown): string | undefined {
  return Array.isArray(encodedPackets) &&
    encodedPackets.length === 1 &&
    typeof encodedPackets[0] === 'string'
    ? encodedPackets[0]
    : undefined;
}

/**
 * The WebSocket frame engine.io and ws would send for one socket.io packet: an unmasked, final
 * text frame whose payload is engine.io's message type ("4") and the packet, in one buffer.
 */
export function messageFrame(packet: string): Buffer {
  const length = Buffer.byteLength(packet) + 1;
  const header = length < 126 ? 2 : length < 65_536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(header + length);
  frame[0] = 0x81;
  if (header === 2) frame[1] = length;
  else if (header === 4) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
    frame.writeUInt32BE(length >>> 0, 6);
  }
  frame[header] = 0x34;
  frame.write(packet, header + 1, 'utf8');
  return frame;
}

/**
 * Fan-out without engine.io's per-socket steps. For a broadcast, socket.io-adapter encodes the
 * packet and builds its WebSocket frame once, then, for every socket in the room, hands both to
 * the socket's client (`writeToEngine`), and engine.io makes a packet object, emits three events,
 * swaps write buffers, has ws cork the TCP socket for the frame's two parts and, once the write
 * is done, runs a callback that emits three more. Here a socket whose connection can take it
 * (directSocket) gets the frame as one buffer, joined once per broadcast, in one write to its TCP
 * socket: the same bytes, in the same order relative to everything else sent on the connection.
 * A single socket's packets (acks, emits) skip the same steps, framed here (messageFrame). Packets
 * with binary attachments, volatile packets and connections on long polling or mid-upgrade go
 * the usual way.
 *
 * Installed on socket.io's Client prototype (which socket.io does not export) from the first
 * connection's client; once per process, whatever the number of servers.
 */
export function installDirectFrames(socket: Socket): void {
  const prototype = Object.getPrototypeOf(socket.client) as SocketIoClient & {
    [INSTALLED]?: true;
  };
  if (prototype[INSTALLED]) return;
  const writeToEngine = prototype.writeToEngine;
  prototype.writeToEngine = function (this: SocketIoClient, encodedPackets, opts): void {
    if (opts.volatile !== true) {
      const parts = opts.wsPreEncodedFrame;
      const text = parts === undefined ? singleText(encodedPackets) : undefined;
      if (parts !== undefined || text !== undefined) {
        const tcp = directSocket(this.conn);
        if (tcp !== undefined) {
          tcp.write(
            parts === undefined
              ? messageFrame(text!)
              : (opts[FRAME] ??= parts.length === 1 ? parts[0] : Buffer.concat(parts)),
          );
          return;
        }
      }
    }
    writeToEngine.call(this, encodedPackets, opts);
  };
  prototype[INSTALLED] = true;
}
