import type { Socket } from 'socket.io';
import { createRequire } from 'node:module';
import { directSocket, installDirectFrames, messageFrame } from '../../src/realtime/direct-frames';

type Conn = Parameters<typeof directSocket>[0];

/** An engine.io connection over WebSocket with an idle sender, as directSocket reads it. */
function connection(writes: Buffer[] = []): Conn & { tcp: { writable: boolean } } {
  const tcp = {
    writable: true,
    write: (chunk: Buffer) => writes.push(chunk),
  };
  return {
    readyState: 'open',
    upgrading: false,
    writeBuffer: [],
    transport: {
      name: 'websocket',
      socket: { readyState: 1, _socket: tcp as never, _sender: { _state: 0, _queue: [] } },
    },
    tcp,
  };
}

describe('directSocket', () => {
  it('gives the TCP socket of an open, idle WebSocket connection', () => {
    const conn = connection();
    expect(directSocket(conn)).toBe(conn.tcp);
  });

  it.each<[string, (conn: ReturnType<typeof connection>) => void]>([
    ['the connection is closing', (conn) => (conn.readyState = 'closing')],
    ['the connection is upgrading', (conn) => (conn.upgrading = true)],
    ['engine.io holds packets not yet written', (conn) => conn.writeBuffer.push({})],
    ['the transport is long polling', (conn) => (conn.transport = { name: 'polling' })],
    ['the WebSocket is closing', (conn) => (conn.transport.socket!.readyState = 2)],
    ['the sender is busy', (conn) => (conn.transport.socket!._sender!._state = 1)],
    ['the sender has a queue', (conn) => conn.transport.socket!._sender!._queue.push({})],
    ['the TCP socket has ended', (conn) => (conn.tcp.writable = false)],
  ])('gives nothing when %s', (_, change) => {
    const conn = connection();
    change(conn);
    expect(directSocket(conn)).toBeUndefined();
  });
});

/** ws's own frame builder (not in its type definitions). */
const { Sender } = createRequire(__filename)('ws') as {
  Sender: { frame(data: Buffer, options: object): Buffer[] };
};

describe('messageFrame', () => {
  it.each([1, 3, 125, 126, 127, 65_535, 65_536, 70_000])(
    "is the frame ws builds for engine.io's message packet (%i bytes of payload)",
    (bytes) => {
      const packet = bytes >= 3 ? `é${'x'.repeat(bytes - 3)}` : 'x'.repeat(bytes - 1);
      const payload = Buffer.from(`4${packet}`);
      expect(payload.length).toBe(bytes);
      const expected = Sender.frame(payload, {
        readOnly: false,
        mask: false,
        rsv1: false,
        opcode: 1,
        fin: true,
      });
      expect(messageFrame(packet)).toEqual(Buffer.concat(expected));
    },
  );
});

describe('installDirectFrames', () => {
  class FakeClient {
    static readonly engineWrites: unknown[] = [];
    constructor(readonly conn: Conn) {}
    writeToEngine(encodedPackets: unknown, _opts: object): void {
      FakeClient.engineWrites.push(encodedPackets);
    }
  }
  installDirectFrames({ client: new FakeClient(connection()) } as unknown as Socket);

  beforeEach(() => (FakeClient.engineWrites.length = 0));

  it('writes a pre-built frame as one buffer, joined once for all sockets', () => {
    const [writesA, writesB] = [[], []] as Buffer[][];
    const opts = { wsPreEncodedFrame: [Buffer.from([0x81, 3]), Buffer.from('4[]')] };
    new FakeClient(connection(writesA)).writeToEngine(['[]'], opts);
    new FakeClient(connection(writesB)).writeToEngine(['[]'], opts);

    expect(writesA).toEqual([Buffer.from([0x81, 3, 0x34, 0x5b, 0x5d])]);
    expect(writesB[0]).toBe(writesA[0]);
    expect(FakeClient.engineWrites).toEqual([]);
  });

  it("frames a single socket's text packet itself", () => {
    const writes: Buffer[] = [];
    new FakeClient(connection(writes)).writeToEngine(['30[{"ok":true}]'], {});

    expect(writes).toEqual([messageFrame('30[{"ok":true}]')]);
    expect(FakeClient.engineWrites).toEqual([]);
  });

  it('leaves binary packets, volatile ones and busy connections to engine.io', () => {
    const writes: Buffer[] = [];
    const frame = [Buffer.from([0x81, 1]), Buffer.from('4')];
    const busy = connection(writes);
    busy.writeBuffer.push({});
    const binary = ['51-["file",{"_placeholder":true,"num":0}]', Buffer.from([1])];
    new FakeClient(connection(writes)).writeToEngine(binary, {});
    new FakeClient(connection(writes)).writeToEngine(['b'], {
      wsPreEncodedFrame: frame,
      volatile: true,
    });
    new FakeClient(connection(writes)).writeToEngine(['c'], { volatile: true });
    new FakeClient(busy).writeToEngine(['d'], { wsPreEncodedFrame: frame });
    new FakeClient(busy).writeToEngine(['e'], {});

    expect(writes).toEqual([]);
    expect(FakeClient.engineWrites).toEqual([binary, ['b'], ['c'], ['d'], ['e']]);
  });

  it('installs once per prototype', () => {
    const patched = FakeClient.prototype.writeToEngine;
    installDirectFrames({ client: new FakeClient(connection()) } as unknown as Socket);
    expect(FakeClient.prototype.writeToEngine).toBe(patched);
  });
});
