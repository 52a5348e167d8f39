import { Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { Client, type PoolConfig } from 'pg';
import { DataSource } from 'typeorm';
import { isDatabaseUnavailable } from '../common/errors';
import { pgPool } from '../database/pg-pool';
import { callPrepared } from '../database/prepared-call';
import {
  APPEND_BATCH,
  APPEND_ONE,
  arrayParametersOf,
  outcomeOf,
  textParametersOf,
  type AppendRefusal,
  type NewMessage,
  type OutcomeRow,
} from './append-statement';
import type { MessageEntity } from './message.entity';
import { MessagesRepository } from './messages.repository';

/** A message already stored under the same (sender, clientMsgId): nothing new was written. */
export interface DuplicateOf {
  duplicateOf: MessageEntity;
}
export type AppendResult = MessageEntity | DuplicateOf | AppendRefusal;

/**
 * The write path of messages, with a named (prepared) statement — it runs for every message, so
 * it skips the ORM. seqs are assigned under the room row locks, so they are gapless and ordered
 * with any number of server processes.
 *
 * The statements run on a connection of their own, outside the pool: MessageWriter runs one
 * batch at a time per node, so one connection serves them all, with no checkout, release and idle
 * timer per batch (31–44 µs of CPU per batch, `npm run bench:floor`), and a REST burst that
 * exhausts the pool cannot stall sends. It is opened with the pool's options (timeouts included)
 * on first use, dropped when it fails or the server closes it, and opened again by the next batch.
 * Only one call may run at a time: callers other than MessageWriter must not overlap.
 *
 * The pool's query timeout (query_timeout) applies to its statements as well, but through one
 * timer of the store's: pg would set and clear a timer per statement, and a timer whose duration
 * no other timer shares makes Node create and delete a timer list each time (about 2% of the
 * hub's CPU per message at 200 msg/s in a `perf` profile). The store re-arms its timer at each
 * statement and never clears it; when it fires with a statement still in flight, that statement
 * has run for the whole timeout: the connection is destroyed, the statement fails with pg's
 * "Query read timeout" (so callers answer `unavailable`, as before) and the next batch opens a
 * new connection.
 */
@Injectable()
export class MessageStore implements OnApplicationShutdown {
  /** The pool's options (URL, timeouts, startup options): the writer's connection uses them too. */
  private readonly options: PoolConfig;
  /** The writer's connection, from the moment it is being opened until it is dropped. */
  private client: Client | undefined;
  private connection: Promise<Client> | undefined;
  /** The connection once it is open, until it is dropped: batches use it without an await. */
  private ready: Client | undefined;
  /** The latest statement (its caller handles its failure): shutdown waits for it to settle. */
  private inFlight: Promise<unknown> = Promise.resolve();
  /** The pool's query_timeout, in ms (0: none), enforced by `watchdog`. */
  private readonly timeoutMs: number;
  /** Fires timeoutMs after the latest statement started; unref'd, never cleared while open. */
  private watchdog: NodeJS.Timeout | undefined;
  /** The connection whose statement is in flight, until it is answered. */
  private running: Client | undefined;

  constructor(
    @InjectDataSource() dataSource: DataSource,
    private readonly messages: MessagesRepository,
  ) {
    const { query_timeout: timeoutMs, ...options } = pgPool(dataSource).options;
    this.options = options;
    this.timeoutMs = timeoutMs ?? 0;
  }

  /**
   * Stores a batch atomically and answers per message, in input order: the stored message, or
   * why it was refused (refused ones take no seq). Throws when the statement fails; then nothing
   * of the batch was stored.
   */
  async appendBatch(batch: NewMessage[]): Promise<AppendResult[]> {
    const client = this.ready ?? (await this.writerConnection());
    const statement =
      batch.length === 1
        ? callPrepared(client, APPEND_ONE, textParametersOf(batch[0]), outcomeOf)
        : callPrepared(client, APPEND_BATCH, arrayParametersOf(batch), outcomeOf);
    this.inFlight = statement;
    this.arm(client);
    let rows: OutcomeRow[];
    try {
      rows = await statement;
    } catch (error) {
      // A connection whose server stopped answering is dropped; one that answered with an error
      // (a constraint, a trigger) is healthy and stays.
      if (isDatabaseUnavailable(error)) this.drop(client);
      throw error;
    } finally {
      this.running = undefined;
    }
    const resent = rows.flatMap(([verdict, , , , , id]) => (verdict === 'duplicate' ? [id!] : []));
    // No await when nothing was a resend (the usual case): the message goes out a tick sooner.
    const originals = resent.length === 0 ? NO_ORIGINALS : await this.originals(resent);
    return rows.map((row, i): AppendResult => {
      const [verdict, firstOrd, , , , duplicateId] = row;
      if (verdict === 'duplicate') return { duplicateOf: originals.get(duplicateId!)! };
      if (verdict !== null) return verdict;
      const first = firstOrd === null ? i : Number(firstOrd) - 1;
      const stored = storedMessage(batch[first], rows[first]);
      return first === i ? stored : { duplicateOf: stored };
    });
  }

  /** Runs after the gateway has drained the sends in flight (beforeApplicationShutdown). */
  async onApplicationShutdown(): Promise<void> {
    // A statement still running (bounded by the query timeout) is answered, not cut off.
    await this.inFlight.catch(() => undefined);
    clearTimeout(this.watchdog);
    this.watchdog = undefined;
    const client = this.client;
    this.client = undefined;
    this.ready = undefined;
    this.connection = undefined;
    await client?.end().catch(() => undefined);
  }

  /** Starts the query timeout of the statement just sent on `client`. */
  private arm(client: Client): void {
    this.running = client;
    if (this.timeoutMs <= 0) return;
    if (this.watchdog) this.watchdog.refresh();
    else this.watchdog = setTimeout(this.expire, this.timeoutMs).unref();
  }

  /** The timer fired: a statement still in flight started timeoutMs ago (one runs at a time). */
  private readonly expire = (): void => {
    const client = this.running;
    if (!client) return;
    this.running = undefined;
    // pg fails every query of a connection whose socket errs, with that error, and the client's
    // 'error' listener drops the connection.
    client.connection.stream.destroy(new Error('Query read timeout'));
  };

  private writerConnection(): Promise<Client> {
    if (this.connection) return this.connection;
    const client = new Client(this.options);
    // A connection that fails or is closed while idle (the server restarted) is replaced.
    client.on('error', () => this.drop(client));
    client.on('end', () => this.drop(client));
    this.client = client;
    this.connection = client.connect().then(
      () => {
        if (this.client === client) this.ready = client;
        return client;
      },
      (error: unknown) => {
        this.drop(client);
        throw error;
      },
    );
    return this.connection;
  }

  /** Forgets the connection (the next batch opens a new one) and closes it. */
  private drop(client: Client): void {
    if (this.client !== client) return;
    this.client = undefined;
    this.ready = undefined;
    this.connection = undefined;
    client.end().catch(() => undefined);
  }

  /** The stored originals of resent idempotency keys (rare: a resend after a lost ack). */
  private async originals(ids: string[]): Promise<ReadonlyMap<string, MessageEntity>> {
    return new Map((await this.messages.findByIds(ids)).map((m) => [m.id, m]));
  }
}

const NO_ORIGINALS: ReadonlyMap<string, MessageEntity> = new Map();

function storedMessage(m: NewMessage, [, , seq, data, createdAt]: OutcomeRow): MessageEntity {
  return {
    id: m.id,
    roomId: m.roomId,
    seq: Number(seq),
    senderId: m.senderId,
    body: m.body,
    data,
    replyTo: m.replyTo,
    clientMsgId: m.clientMsgId,
    createdAt: createdAt!,
  };
}
