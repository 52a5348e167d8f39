import { ArgumentsHost, Catch, ExceptionFilter, Logger } from '@nestjs/common';
import { WsException } from '@nestjs/websockets';
import type { Socket } from 'socket.io';
import { AppError, classifyDatabaseError } from '../common/errors';
import { uuidv7 } from '../common/uuid';
import type { WsError } from '../contracts/socket-events';

/**
 * Gives socket.io failures the contract's shape: through the ack as `{ok:false, error}` when the
 * client asked for one, otherwise as an `error` event. Unknown failures are logged with an id.
 */
@Catch()
export class WsExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('WsExceptionFilter');

  catch(exception: unknown, host: ArgumentsHost): void {
    const ack = host
      .getArgs()
      .find((arg): arg is (response: unknown) => void => typeof arg === 'function');
    this.answer(exception, host.switchToWs().getClient<Socket>(), ack);
  }

  /** The same answer for handlers bound outside Nest's pipeline (direct-events.ts). */
  answer(exception: unknown, socket: Socket, ack?: (response: unknown) => void): void {
    const error = this.toError(exception);
    if (ack) ack({ ok: false, error });
    else socket.emit('error', error);
  }

  private toError(exception: unknown): WsError {
    if (exception instanceof AppError) return exception.toBody();
    if (exception instanceof WsException) {
      const inner = exception.getError();
      return {
        code: 'validation_failed',
        message: typeof inner === 'string' ? inner : 'invalid request',
      };
    }
    const database = classifyDatabaseError(exception);
    if (database) return database;
    const errorId = uuidv7();
    this.logger.error({ err: exception, errorId }, 'unhandled socket error');
    return { code: 'internal', message: `internal error (id ${errorId})` };
  }
}
