import { Inject, Injectable } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import type { Principal } from '../common/actor';
import {
  AppError,
  forbidden,
  isDatabaseUnavailable,
  notFound,
  pgConstraint,
  pgErrorCode,
  PG_FOREIGN_KEY_VIOLATION,
  PG_UNIQUE_VIOLATION,
} from '../common/errors';
import { UUID_PATTERN, uuidv7 } from '../common/uuid';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import type { MessageDto, MessagePage } from '../contracts/rest';
import { RoomsService } from '../rooms/rooms.service';
import { MAX_DATA_BYTES, type HistoryQueryDto, type SendMessageDto } from './dto/message.dto';
import type { MessageEntity } from './message.entity';
import { toMessageDto } from './messages.mapper';
import type { AppendRefusal } from './append-statement';
import type { AppendResult } from './message-store';
import { InDoubtMessages } from './in-doubt-messages';
import { MESSAGE_CREATED, type MessageCreatedEvent } from './message-events';
import { MessageWriter } from './message-writer';
import { MessagesRepository } from './messages.repository';

export interface SendResult {
  message: MessageDto;
  /** True when clientMsgId matched an earlier message, which is returned instead. */
  duplicate: boolean;
}

export const RECOVERY_LIMIT = 200;

@Injectable()
export class MessagesService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly messages: MessagesRepository,
    private readonly writer: MessageWriter,
    private readonly rooms: RoomsService,
    private readonly events: EventEmitter2,
    private readonly inDoubt: InDoubtMessages,
  ) {}

  /**
   * Validates sizes, stores the message (seq assigned in the insert transaction) and only then
   * announces it. A resend with the same clientMsgId returns the original and announces nothing.
   */
  async send(
    principal: Principal,
    roomId: string,
    input: SendMessageDto,
    originSocketId: string | null = null,
  ): Promise<SendResult> {
    const dataJson = this.checkSizes(input);
    if (!UUID_PATTERN.test(roomId)) throw notFound('room');
    const id = uuidv7();
    let stored: AppendResult;
    try {
      stored = await this.writer.write({
        id,
        roomId,
        senderId: principal.agentId,
        body: input.body,
        dataJson,
        replyTo: input.replyTo ?? null,
        clientMsgId: input.clientMsgId ?? null,
        bypassMembership: principal.role === 'admin',
      });
    } catch (error) {
      if (isDatabaseUnavailable(error)) this.inDoubt.track(id);
      return this.recoverFromInsertError(error, principal, roomId, input);
    }
    if (typeof stored === 'string') {
      // A resend whose original is stored gets the original, even if the room changed since.
      const original = input.clientMsgId
        ? await this.messages.findByClientMsgId(principal.agentId, input.clientMsgId)
        : null;
      if (original) return this.duplicateOf(original, roomId, input);
      throw await this.refusal(stored, principal, roomId);
    }
    if ('duplicateOf' in stored) return this.duplicateOf(stored.duplicateOf, roomId, input);
    const message = toMessageDto(stored);
    const event: MessageCreatedEvent = { message, originSocketId };
    this.events.emit(MESSAGE_CREATED, event);
    return { message, duplicate: false };
  }

  /** `GET /v1/rooms/:id/messages`: `after` pages forward, `before` alone pages backward. */
  async history(
    principal: Principal,
    roomId: string,
    query: HistoryQueryDto,
  ): Promise<MessagePage> {
    await this.rooms.readable(principal, roomId);
    const limit = query.limit ?? 50;
    if (
      query.after !== undefined &&
      query.before !== undefined &&
      query.before <= query.after + 1
    ) {
      return { items: [], hasMore: false };
    }
    const page =
      query.after !== undefined || query.before === undefined
        ? await this.messages.findAfter(roomId, query.after ?? 0, query.before, limit)
        : await this.messages.findBefore(roomId, query.before, limit);
    return { items: page.items.map(toMessageDto), hasMore: page.hasMore };
  }

  /** What a reconnecting client missed: seq > sinceSeq, bounded, oldest first. */
  async since(roomId: string, sinceSeq: number): Promise<MessagePage> {
    const page = await this.messages.findAfter(roomId, sinceSeq, undefined, RECOVERY_LIMIT);
    return { items: page.items.map(toMessageDto), hasMore: page.hasMore };
  }

  /** A resend returns the original; the same key for a different message is a client bug. */
  private duplicateOf(original: MessageEntity, roomId: string, input: SendMessageDto): SendResult {
    if (original.roomId !== roomId || original.body !== input.body) {
      throw new AppError('conflict', 'clientMsgId was already used for a different message', {
        messageId: original.id,
        roomId: original.roomId,
      });
    }
    return { message: toMessageDto(original), duplicate: true };
  }

  /** Checks the caps and returns `data` serialised, once: the store inserts that same text. */
  private checkSizes(input: SendMessageDto): string | null {
    const bodyBytes = Buffer.byteLength(input.body, 'utf8');
    if (bodyBytes > this.config.maxMessageBytes) {
      throw new AppError(
        'payload_too_large',
        `body is ${bodyBytes} bytes; the limit is ${this.config.maxMessageBytes}`,
      );
    }
    const dataJson = input.data === undefined ? null : JSON.stringify(input.data);
    if (dataJson !== null && Buffer.byteLength(dataJson, 'utf8') > MAX_DATA_BYTES) {
      throw new AppError('payload_too_large', `data is larger than ${MAX_DATA_BYTES} bytes`);
    }
    return dataJson;
  }

  private async recoverFromInsertError(
    error: unknown,
    principal: Principal,
    roomId: string,
    input: SendMessageDto,
  ): Promise<SendResult> {
    const code = pgErrorCode(error);
    const constraint = pgConstraint(error);
    if (
      code === PG_UNIQUE_VIOLATION &&
      constraint === 'messages_sender_client_msg_id_key' &&
      input.clientMsgId
    ) {
      // A concurrent resend won the race; its transaction holds the message, ours rolled back.
      const original = await this.messages.findByClientMsgId(principal.agentId, input.clientMsgId);
      if (original) return this.duplicateOf(original, roomId, input);
    }
    if (code === PG_FOREIGN_KEY_VIOLATION && constraint === 'messages_reply_same_room') {
      throw new AppError(
        'validation_failed',
        'replyTo must be the id of a message in the same room',
        [{ field: 'replyTo', problems: ['no such message in this room'] }],
      );
    }
    throw error;
  }

  private async refusal(
    reason: AppendRefusal,
    principal: Principal,
    roomId: string,
  ): Promise<AppError> {
    switch (reason) {
      case 'room_not_found':
        return notFound('room');
      case 'room_archived':
        return new AppError('conflict', 'room is archived');
      case 'not_member':
        // Outsiders of a private room learn nothing about it.
        await this.rooms.readable(principal, roomId);
        return forbidden('join the room before sending to it');
      case 'reply_not_in_room':
        return new AppError(
          'validation_failed',
          'replyTo must be the id of a message in the same room',
          [{ field: 'replyTo', problems: ['no such message in this room'] }],
        );
    }
  }
}
