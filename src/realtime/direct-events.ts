import { Logger, type ArgumentMetadata } from '@nestjs/common';
import type { SafeValidationPipe } from '../common/validation';
import type { AgentSocket } from './socket-types';
import type { WsExceptionFilter } from './ws-exception.filter';

type Ack = (response: unknown) => void;

const logger = new Logger('DirectEvents');

/**
 * A client event bound straight to its socket, outside Nest's WsContextCreator: the event every
 * agent sends all the time (`message:send`) skips the global guard (which passes every socket
 * event: the handshake authenticated the socket), the per-parameter async pipes and the
 * exception-filter proxy. What the client sees is the same as for a @SubscribeMessage handler:
 * the payload goes through the same validation pipe with the same DTO, errors are answered by
 * WsExceptionFilter (through the ack, or as an `error` event without one), and the handler's
 * result is the ack. The per-socket limits still apply: they are socket.io middleware
 * (SocketLimits), which runs before any listener.
 *
 * The listener is one function shared by every socket: socket.io calls it with `this` set to
 * the socket, so no closure is kept per connection.
 */
export function directListener<Dto extends object>(
  dto: new () => Dto,
  pipe: SafeValidationPipe,
  filter: WsExceptionFilter,
  handler: (socket: AgentSocket, payload: Dto) => Promise<unknown>,
): (this: AgentSocket, ...args: unknown[]) => void {
  const metadata: ArgumentMetadata = { type: 'body', metatype: dto };
  return function listener(this: AgentSocket, ...args: unknown[]): void {
    // As Nest's IoAdapter maps socket.io arguments: a trailing function is the ack, one argument
    // left is the payload itself, several are an array (which the pipe refuses).
    const ack = typeof args[args.length - 1] === 'function' ? (args.pop() as Ack) : undefined;
    const data = args.length === 1 ? args[0] : args.length === 0 ? undefined : args;
    pipe
      .transform(data, metadata)
      .then((payload) => handler(this, payload as Dto))
      .then(
        (response) => {
          if (ack && response !== undefined && response !== null) ack(response);
        },
        (error: unknown) => filter.answer(error, this, ack),
      )
      .catch((error: unknown) => logger.error(error));
  };
}
