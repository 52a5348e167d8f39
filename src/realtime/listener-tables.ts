import type { Socket } from 'socket.io';

type ListenerTable = Record<string | symbol, unknown>;
type Emitter = { _events?: ListenerTable };

/** The engine.io transport of a connection and, over WebSocket, what it stands on. */
type Transport = Emitter & {
  name?: string;
  socket?: Emitter & { _socket?: Emitter; _receiver?: Emitter };
};

/**
 * Rebuilds an EventEmitter's listener table as an ordinary object. Node creates `_events` as
 * `{ __proto__: null }`, which V8 keeps in dictionary mode (a hash table): about 480 bytes for six
 * events, against about 100 for the same keys in fast mode. A fast-mode object with a null
 * prototype keeps EventEmitter's semantics (own keys only, no inherited `toString` or `__proto__`
 * event); adding a listener for a new event keeps it fast, removing one may turn it back into a
 * dictionary, which is where it started.
 */
export function compactListenerTable(emitter: unknown): void {
  const events = (emitter as Emitter | null | undefined)?._events;
  if (!events || typeof events !== 'object') return;
  const compact: ListenerTable = {};
  for (const key of Reflect.ownKeys(events)) compact[key] = events[key];
  Object.setPrototypeOf(compact, null);
  (emitter as Emitter)._events = compact;
}

function compactTransport(transport: Transport | undefined): void {
  compactListenerTable(transport);
  const ws = transport?.socket;
  if (!ws) return;
  compactListenerTable(ws);
  compactListenerTable(ws._socket);
  compactListenerTable(ws._receiver);
}

/**
 * An idle connection is a chain of emitters, each with its listener table: the socket.io socket,
 * the engine.io socket, its transport and, over WebSocket, the `ws` socket, its frame receiver and
 * the TCP socket. Compacted once the connection is set up (about 1.5 KiB less per connection); a
 * connection that starts on long polling is compacted again when it upgrades to WebSocket.
 */
export function compactConnectionListeners(socket: Socket): void {
  const conn = socket.conn as unknown as Emitter & {
    transport?: Transport;
    once(event: 'upgrade', listener: (transport: Transport) => void): unknown;
  };
  compactListenerTable(socket);
  compactListenerTable(conn);
  compactTransport(conn.transport);
  // The upgrade's own once-listeners, removed by now, have turned conn's table back into a
  // dictionary.
  if (conn.transport?.name === 'polling')
    conn.once('upgrade', (transport) => {
      compactListenerTable(conn);
      compactTransport(transport);
    });
}
