import type { MessageDto } from '../contracts/rest';
import type { MessageEntity } from './message.entity';

export function toMessageDto(message: MessageEntity): MessageDto {
  return {
    id: message.id,
    roomId: message.roomId,
    seq: message.seq,
    senderId: message.senderId,
    body: message.body,
    data: message.data,
    replyTo: message.replyTo,
    clientMsgId: message.clientMsgId,
    createdAt: message.createdAt.toISOString(),
  };
}
