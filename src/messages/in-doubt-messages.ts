import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { MESSAGE_CREATED, type MessageCreatedEvent } from './message-events';
import { toMessageDto } from './messages.mapper';
import { MessagesRepository } from './messages.repository';

/** How often in-doubt writes are looked up while the database is away. */
const CHECK_MS = 1000;
/** Once the database answers, how long a write may still turn up (its statement was queued). */
const SETTLE_MS = 5000;
/** Bound on what one node remembers through a long outage. */
const MAX_TRACKED = 10_000;

/**
 * A write that failed because the database stopped answering has an unknown outcome: its
 * statement may already sit in the server's queue and commit when the server wakes up. The
 * sender was told `unavailable` (a resend with its clientMsgId returns the original), but the
 * room's subscribers would never hear of it. Such messages are looked up once the database answers
 * again; those that were stored are announced then, to every subscriber including the sender's
 * socket, so every stored message is announced.
 */
@Injectable()
export class InDoubtMessages implements OnApplicationShutdown {
  private readonly logger = new Logger(InDoubtMessages.name);
  /** Message id → when a successful look-up first missed it (null: not looked up yet). */
  private readonly pending = new Map<string, number | null>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly messages: MessagesRepository,
    private readonly events: EventEmitter2,
  ) {}

  track(messageId: string): void {
    if (this.pending.size >= MAX_TRACKED) return;
    this.pending.set(messageId, null);
    this.schedule();
  }

  get size(): number {
    return this.pending.size;
  }

  onApplicationShutdown(): void {
    clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => void this.resolve(), CHECK_MS);
    this.timer.unref();
  }

  private async resolve(): Promise<void> {
    try {
      const found = await this.messages.findByIds([...this.pending.keys()]);
      for (const message of found) {
        this.pending.delete(message.id);
        const event: MessageCreatedEvent = { message: toMessageDto(message), originSocketId: null };
        this.events.emit(MESSAGE_CREATED, event);
      }
      if (found.length > 0)
        this.logger.warn(`announced ${found.length} message(s) stored during an outage`);
      const now = Date.now();
      for (const [id, missedSince] of this.pending) {
        if (missedSince === null) this.pending.set(id, now);
        else if (now - missedSince >= SETTLE_MS) this.pending.delete(id);
      }
    } catch {
      // Still away: try again later.
    } finally {
      this.timer = undefined;
      if (this.pending.size > 0) this.schedule();
    }
  }
}
