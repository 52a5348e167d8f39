import { Client } from 'pg';
import { createAgent, TestAgent } from '../factories/agents';
import { Http } from '../support/http';
import { PROCESS_TEST_TIMEOUT_MS } from '../support/run-process';
import { ServerProcess, startServerProcess } from '../support/server-process';
import { ClientSocket, closeAllSockets, connectSocket, request } from '../support/sockets';
import { createTestDatabase } from '../support/test-database';

interface Acked {
  clientMsgId: string;
  body: string;
  id: string;
  seq: number;
}

const SENDERS = 4;
const LOAD_MS = 1500;

/**
 * `kill -9` under load: nothing acknowledged may be lost, because a message is committed before
 * its ack. After a restart on the same database every acked message is stored with its seq, the
 * room's seq has no gap, and a client that resends an acked clientMsgId gets the original back.
 */
describe('fault: kill -9 under load', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let first: ServerProcess | undefined;
  let second: ServerProcess | undefined;
  let sender: TestAgent;
  let roomId: string;
  const acked: Acked[] = [];
  /** Sends that were in flight when the server died: the client does not know their fate. */
  const unanswered: Array<{ clientMsgId: string; body: string }> = [];
  let failures = 0;

  beforeAll(async () => {
    db = await createTestDatabase();
    first = await startServerProcess({ DATABASE_URL: db.url });
    const http = new Http(first.url);
    sender = await createAgent(http, first.adminToken);
    roomId = (await http.post('/v1/rooms', { name: 'crash' }, sender.jwt)).body.id;
  }, PROCESS_TEST_TIMEOUT_MS);

  afterAll(async () => {
    closeAllSockets();
    await first?.stop('SIGKILL');
    await second?.stop();
    await db?.drop();
  });

  /** Sends one message after another until the socket or the server goes away. */
  async function sendLoop(socket: ClientSocket, index: number, deadline: number): Promise<void> {
    for (let n = 0; socket.connected && Date.now() < deadline; n += 1) {
      const clientMsgId = `crash-${index}-${n}`;
      const body = `load ${index}.${n}`;
      try {
        const ack = await request(socket, 'message:send', { roomId, body, clientMsgId }, 2000);
        if (ack.ok) acked.push({ clientMsgId, body, id: ack.message.id, seq: ack.message.seq });
        else failures += 1;
      } catch {
        unanswered.push({ clientMsgId, body }); // no ack: the server died with it in flight
        return;
      }
    }
  }

  it('keeps every acknowledged message, a gapless seq and idempotent resends across a SIGKILL', async () => {
    const sockets = await Promise.all(
      Array.from({ length: SENDERS }, () => connectSocket(first!.url, sender.jwt)),
    );
    for (const socket of sockets) await request(socket, 'room:join', { roomId });
    const loops = sockets.map((socket, i) => sendLoop(socket, i, Date.now() + LOAD_MS + 10_000));
    await new Promise((load) => setTimeout(load, LOAD_MS));
    const killed = await first!.stop('SIGKILL');
    expect(killed.signal).toBe('SIGKILL');
    await Promise.all(loops);
    console.log(
      `kill -9 after ${LOAD_MS} ms of load: ${acked.length} sends acknowledged, ${failures} refused`,
    );
    expect(acked.length).toBeGreaterThan(20);
    expect(failures).toBe(0);

    second = await startServerProcess({ DATABASE_URL: db.url }, { adminToken: first!.adminToken });

    const pg = new Client({ connectionString: db.url });
    await pg.connect();
    try {
      const stored = await pg.query<{ id: string; seq: string; client_msg_id: string }>(
        'SELECT id, seq, client_msg_id FROM messages WHERE room_id = $1 ORDER BY seq',
        [roomId],
      );
      const room = await pg.query<{ last_seq: string }>(
        'SELECT last_seq FROM rooms WHERE id = $1',
        [roomId],
      );
      const seqs = stored.rows.map((row) => Number(row.seq));
      const max = Math.max(...seqs);
      // Gapless: exactly 1..max, and the room's counter agrees.
      expect(seqs).toEqual(Array.from({ length: max }, (_, i) => i + 1));
      expect(Number(room.rows[0].last_seq)).toBe(max);
      // Every acknowledged message is there, with the id and seq its ack carried.
      const byId = new Map(stored.rows.map((row) => [row.id, row]));
      for (const ack of acked) {
        expect(byId.get(ack.id)).toEqual({
          id: ack.id,
          seq: String(ack.seq),
          client_msg_id: ack.clientMsgId,
        });
      }
      console.log(
        `after restart: ${stored.rowCount} stored (${stored.rowCount! - acked.length} committed without a delivered ack), seq 1..${max} gapless`,
      );
    } finally {
      await pg.end();
    }

    // The client retries its sends after reconnecting: acked ones come back as the original.
    const resender = await connectSocket(second.url, sender.jwt);
    await request(resender, 'room:join', { roomId });
    for (const original of [acked[0], acked[acked.length - 1]]) {
      const resend = await request(resender, 'message:send', {
        roomId,
        body: original.body,
        clientMsgId: original.clientMsgId,
      });
      expect(resend).toMatchObject({ ok: true, message: { id: original.id, seq: original.seq } });
    }
    // Sends whose ack never came are retried too: stored once either way, seq still gapless.
    for (const pending of unanswered) {
      const retried = await request(resender, 'message:send', { roomId, ...pending });
      expect(retried).toMatchObject({ ok: true, message: { clientMsgId: pending.clientMsgId } });
    }
    const check = new Client({ connectionString: db.url });
    await check.connect();
    try {
      const totals = await check.query<{ count: string; max: string; distinct: string }>(
        `SELECT count(*) AS count, max(seq) AS max, count(DISTINCT client_msg_id) AS distinct
           FROM messages WHERE room_id = $1`,
        [roomId],
      );
      const { count, max, distinct } = totals.rows[0];
      expect(Number(count)).toBe(Number(max));
      expect(Number(distinct)).toBe(Number(count));
      expect(Number(count)).toBe(acked.length + unanswered.length);
    } finally {
      await check.end();
    }
  }, 120_000);
});
