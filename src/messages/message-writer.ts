import { Injectable } from '@nestjs/common';
import { isDatabaseUnavailable } from '../common/errors';
import { AppendResult, MessageStore, NewMessage } from './message-store';

/** Largest batch one transaction carries. */
const MAX_BATCH = 128;
/**
 * One transaction in flight per node: while it runs, arrivals queue and form the next batch, and
 * messages are stored in the order they arrived (a sender's pipelined sends keep their order).
 */
const MAX_CONCURRENT_BATCHES = 1;

interface Pending {
  message: NewMessage;
  resolve: (result: AppendResult) => void;
  reject: (error: unknown) => void;
}

export interface WriterStats {
  batches: number;
  messages: number;
  largestBatch: number;
  /** Batches that failed as a whole and were retried message by message. */
  retriedOneByOne: number;
}

/**
 * Group commit: sends that arrive together (the same event-loop turn, or while the previous
 * transactions are still running) are stored in one transaction. At low load a message is written
 * at once, alone; under load batches grow to MAX_BATCH, so throughput follows the load while the
 * per-message cost of a round trip and a commit shrinks. Every message is answered on its own:
 * stored, refused, or failed. Refusals (room, membership, replyTo, duplicate key) are decided inside
 * the batch; a batch that still fails as a whole (a duplicate key racing another node) is retried
 * message by message, so one bad message never fails the others.
 */
@Injectable()
export class MessageWriter {
  private readonly queue: Pending[] = [];
  private running = 0;
  private scheduled = false;
  readonly stats: WriterStats = { batches: 0, messages: 0, largestBatch: 0, retriedOneByOne: 0 };

  constructor(private readonly store: MessageStore) {}

  write(message: NewMessage): Promise<AppendResult> {
    return new Promise((resolve, reject) => {
      this.queue.push({ message, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.running >= MAX_CONCURRENT_BATCHES || this.queue.length === 0) return;
    this.scheduled = true;
    // One turn of the event loop gathers the sends that arrived together.
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    while (this.running < MAX_CONCURRENT_BATCHES && this.queue.length > 0) {
      const batch = this.queue.splice(0, MAX_BATCH);
      this.running += 1;
      void this.commit(batch).finally(() => {
        this.running -= 1;
        this.schedule();
      });
    }
  }

  private async commit(batch: Pending[]): Promise<void> {
    this.stats.batches += 1;
    this.stats.messages += batch.length;
    this.stats.largestBatch = Math.max(this.stats.largestBatch, batch.length);
    try {
      const results = await this.store.appendBatch(batch.map((p) => p.message));
      batch.forEach((pending, i) => pending.resolve(results[i]));
    } catch (error) {
      if (isDatabaseUnavailable(error)) {
        // The database is away: what queued behind this batch would only wait for its own timeout.
        for (const pending of [...batch, ...this.queue.splice(0)]) pending.reject(error);
        return;
      }
      if (batch.length === 1) {
        batch[0].reject(error);
        return;
      }
      this.stats.retriedOneByOne += 1;
      for (const pending of batch) {
        try {
          const [result] = await this.store.appendBatch([pending.message]);
          pending.resolve(result);
        } catch (single) {
          pending.reject(single);
        }
      }
    }
  }
}
