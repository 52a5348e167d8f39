import type { AppConfig } from '../../src/config/app-config';
import type { NewMessage } from '../../src/messages/append-statement';
import type { AppendResult, MessageStore } from '../../src/messages/message-store';
import type { MessageEntity } from '../../src/messages/message.entity';
import { MessageWriter } from '../../src/messages/message-writer';

/** Records the batches it is given; answers at once, or when `release()` is called. */
class FakeStore {
  readonly batches: string[][] = [];
  hold = false;
  private readonly held: Array<() => void> = [];

  appendBatch(batch: NewMessage[]): Promise<AppendResult[]> {
    this.batches.push(batch.map((m) => m.body));
    const results = batch.map((m, i): MessageEntity => ({ ...entity(m), seq: i + 1 }));
    if (!this.hold) return Promise.resolve(results);
    return new Promise((resolve) => this.held.push(() => resolve(results)));
  }

  release(): void {
    for (const answer of this.held.splice(0)) answer();
  }
}

function entity(m: NewMessage): MessageEntity {
  return {
    id: m.id,
    roomId: m.roomId,
    seq: 0,
    senderId: m.senderId,
    body: m.body,
    data: null,
    replyTo: null,
    clientMsgId: null,
    createdAt: new Date(0),
  };
}

const message = (body: string): NewMessage => ({
  id: `id-${body}`,
  roomId: 'room',
  senderId: 'agent',
  body,
  dataJson: null,
  replyTo: null,
  clientMsgId: null,
  bypassMembership: false,
});

const WINDOW_MS = 5;

describe('MessageWriter (group commit window)', () => {
  let store: FakeStore;
  const writerWith = (windowMs: number) =>
    new MessageWriter(
      store as unknown as MessageStore,
      {
        messageBatchWindowMs: windowMs,
      } as AppConfig,
    );
  const tick = (ms: number) => jest.advanceTimersByTimeAsync(ms);

  /** Sends `count` messages `gapMs` apart, waiting for each to be written. */
  async function steady(writer: MessageWriter, count: number, gapMs: number): Promise<void> {
    for (let i = 0; i < count; i += 1) {
      void writer.write(message(`steady${i}`));
      await tick(gapMs);
    }
  }

  beforeEach(() => {
    jest.useFakeTimers();
    store = new FakeStore();
  });
  afterEach(() => jest.useRealTimers());

  it('writes sparse sends at once, each alone', async () => {
    const writer = writerWith(WINDOW_MS);
    const first = writer.write(message('a'));
    await tick(0);
    expect(store.batches).toEqual([['a']]);
    await tick(20);
    void writer.write(message('b'));
    await tick(0);
    expect(store.batches).toEqual([['a'], ['b']]);
    expect(((await first) as MessageEntity).body).toBe('a');
    expect(writer.stats.held).toBe(0);
  });

  it('holds dense sends until the oldest has waited the window, then writes them together', async () => {
    const writer = writerWith(WINDOW_MS);
    await steady(writer, 40, 1); // a send every millisecond: two or more expected per window
    await tick(WINDOW_MS); // everything so far is written
    const before = store.batches.length;
    const acks = ['x', 'y', 'z'].map((body) => writer.write(message(body)));
    await tick(0);
    expect(store.batches.length).toBe(before);
    await tick(WINDOW_MS - 1);
    expect(store.batches.length).toBe(before);
    await tick(1);
    expect(store.batches.slice(before)).toEqual([['x', 'y', 'z']]);
    const stored = (await Promise.all(acks)) as MessageEntity[];
    expect(stored.map((m) => m.body)).toEqual(['x', 'y', 'z']);
    expect(writer.stats.held).toBeGreaterThan(0);
  });

  it('lets a send arriving past half the window take the held batch along at once', async () => {
    const writer = writerWith(WINDOW_MS);
    await steady(writer, 40, 1);
    await tick(WINDOW_MS);
    const before = store.batches.length;
    void writer.write(message('p'));
    await tick(1);
    void writer.write(message('q'));
    await tick(0);
    expect(store.batches.length).toBe(before); // 1 ms old: held
    await tick(2);
    void writer.write(message('r')); // the oldest is 3 ms old, past half of 5
    await tick(0);
    expect(store.batches.slice(before)).toEqual([['p', 'q', 'r']]);
  });

  it('writes a full batch at once instead of waiting out the window', async () => {
    const writer = writerWith(WINDOW_MS);
    await steady(writer, 40, 1);
    await tick(WINDOW_MS);
    const before = store.batches.length;
    const bodies = Array.from({ length: 32 }, (_, i) => `f${i}`);
    const acks = bodies.map((body) => writer.write(message(body)));
    await tick(0);
    expect(store.batches.slice(before)).toEqual([bodies]);
    expect(((await Promise.all(acks)) as MessageEntity[]).map((m) => m.body)).toEqual(bodies);
  });

  it('never waits with a window of 0', async () => {
    const writer = writerWith(0);
    await steady(writer, 40, 1);
    expect(store.batches).toHaveLength(40);
    expect(writer.stats.held).toBe(0);
  });

  it('queues what arrives while a statement is in flight as the next batch', async () => {
    const writer = writerWith(WINDOW_MS);
    store.hold = true;
    void writer.write(message('a'));
    await tick(0);
    expect(store.batches).toEqual([['a']]);
    void writer.write(message('b'));
    void writer.write(message('c'));
    await tick(50);
    expect(store.batches).toEqual([['a']]); // one statement in flight per node
    store.release();
    await tick(0);
    expect(store.batches).toEqual([['a'], ['b', 'c']]);
  });
});
