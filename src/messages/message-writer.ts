import { Inject, Injectable } from '@nestjs/common';
import { isDatabaseUnavailable } from '../common/errors';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import type { NewMessage } from './append-statement';
import { AppendResult, MessageStore } from './message-store';

/** Largest batch one statement carries. */
const MAX_BATCH = 128;
/** A batch this large goes at once: the window would only add latency. */
const FULL_BATCH = 32;
/**
 * One statement in flight per node: while it runs, arrivals queue and form the next batch, and
 * messages are stored in the order they arrived (a sender's pipelined sends keep their order).
 * MessageStore relies on it too: one connection, and one query-timeout timer for it.
 */
const MAX_CONCURRENT_BATCHES = 1;
/** Weight of the newest gap in the running mean of the gaps between sends. */
const GAP_WEIGHT = 0.2;
/** Gaps are counted up to this: after a pause, the first sends are sparse at once. */
const MAX_GAP_MS = 100;

interface Pending {
  message: NewMessage;
  /** performance.now() when the send reached the writer. */
  at: number;
  resolve: (result: AppendResult) => void;
  reject: (error: unknown) => void;
}

export interface WriterStats {
  batches: number;
  messages: number;
  largestBatch: number;
  /** Batches that were held back for the window (sends dense enough to share a statement). */
  held: number;
  /** Batches that failed as a whole and were retried message by message. */
  retriedOneByOne: number;
}

/**
 * Group commit: sends that arrive together are stored in one statement, and answered each on its
 * own (stored, refused or failed). When are sends "together"?
 * - While a statement is in flight, everything arriving queues and forms the next batch.
 * - With none in flight, it depends on the load. Sparse sends (a mean gap longer than half the
 *   window) are written at once, alone: waiting would cost them latency and the process a timer
 *   wake-up for nothing. Dense sends, at least two expected within the window, wait until the
 *   oldest has waited the window (MESSAGE_BATCH_WINDOW_MS, about 2 ms) or FULL_BATCH rows are
 *   queued: one round trip and one wake-up then carry several messages instead of one each. A
 *   send that arrives when the oldest has waited half the window takes the batch along at once,
 *   so under steady load the batch goes in a wake-up a send caused, not one of its own timer.
 * Refusals (room, membership, replyTo, duplicate key) are decided inside the batch; a batch that
 * still fails as a whole (a duplicate key racing another node) is retried message by message, so
 * one bad message never fails the others.
 */
@Injectable()
export class MessageWriter {
  private readonly queue: Pending[] = [];
  private readonly windowMs: number;
  private running = 0;
  private immediate = false;
  private timer: NodeJS.Timeout | undefined;
  private lastArrival = -Infinity;
  private meanGapMs = MAX_GAP_MS;
  readonly stats: WriterStats = {
    batches: 0,
    messages: 0,
    largestBatch: 0,
    held: 0,
    retriedOneByOne: 0,
  };

  constructor(
    private readonly store: MessageStore,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.windowMs = config.messageBatchWindowMs;
  }

  write(message: NewMessage): Promise<AppendResult> {
    return new Promise((resolve, reject) => {
      const now = performance.now();
      this.meanGapMs +=
        (Math.min(now - this.lastArrival, MAX_GAP_MS) - this.meanGapMs) * GAP_WEIGHT;
      this.lastArrival = now;
      this.queue.push({ message, at: now, resolve, reject });
      this.schedule(now);
    });
  }

  private schedule(now = performance.now()): void {
    if (this.running >= MAX_CONCURRENT_BATCHES || this.queue.length === 0) return;
    const dense = this.meanGapMs * 2 <= this.windowMs && this.queue.length < FULL_BATCH;
    const age = now - this.queue[0].at;
    // A batch past half its window goes with the send that found it so, in the wake-up that send
    // caused; the timer only ends a window that no later send came to close.
    if (dense && age < this.windowMs / 2) {
      // The timer, once set, stands: later arrivals only make the oldest older.
      if (this.timer === undefined && !this.immediate) {
        this.stats.held += 1;
        this.timer = setTimeout(this.flushNow, this.windowMs - age);
      }
      return;
    }
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.immediate) return;
    this.immediate = true;
    // One turn of the event loop gathers the sends that arrived together.
    setImmediate(this.flushNow);
  }

  private readonly flushNow = (): void => {
    this.immediate = false;
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    while (this.running < MAX_CONCURRENT_BATCHES && this.queue.length > 0) {
      const batch = this.queue.splice(0, MAX_BATCH);
      this.running += 1;
      void this.commit(batch).finally(() => {
        this.running -= 1;
        this.schedule();
      });
    }
  };

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
