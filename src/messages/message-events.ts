import type { MessageDto } from '../contracts/rest';

export const MESSAGE_CREATED = 'message.created';

/** Emitted after commit; the gateway fans it out to subscribed sockets except `originSocketId`. */
export interface MessageCreatedEvent {
  message: MessageDto;
  originSocketId: string | null;
}
