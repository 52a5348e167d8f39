import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError, classifyDatabaseError, codeForStatus, ErrorBody, ERROR_STATUS } from './errors';
import { uuidv7 } from './uuid';

export interface HttpErrorBody extends ErrorBody {
  statusCode: number;
  errorId?: string;
}

/**
 * The one place REST errors take the contract's shape `{statusCode, code, message, details?}`.
 * Unknown failures become `internal` with an id that is logged with the stack; the client never
 * sees the stack.
 */
@Catch()
export class HttpExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('HttpExceptionFilter');

  catch(exception: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') throw exception;
    const http = host.switchToHttp();
    const reply = http.getResponse<FastifyReply>();
    const request = http.getRequest<FastifyRequest>();
    const body = this.toBody(exception, request);
    if (exception instanceof AppError && exception.code === 'rate_limited') {
      const retryAfter = (exception.details as { retryAfterSeconds?: number } | undefined)
        ?.retryAfterSeconds;
      if (retryAfter !== undefined) void reply.header('Retry-After', String(retryAfter));
    }
    void reply.status(body.statusCode).send(body);
  }

  private toBody(exception: unknown, request: FastifyRequest): HttpErrorBody {
    if (exception instanceof AppError) {
      return { statusCode: exception.status, ...exception.toBody() };
    }
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const response = exception.getResponse();
      const raw =
        typeof response === 'object' &&
        response &&
        'message' in response &&
        typeof response.message === 'string'
          ? response.message
          : exception.message;
      // The router's "Cannot GET /path" would echo the path back: say less.
      const message = status === 404 && raw.startsWith('Cannot ') ? 'route not found' : raw;
      return { statusCode: status, code: codeForStatus(status), message };
    }
    const fastifyStatus = (exception as { statusCode?: unknown } | null)?.statusCode;
    if (typeof fastifyStatus === 'number' && fastifyStatus >= 400 && fastifyStatus < 500) {
      const message = exception instanceof Error ? exception.message : 'bad request';
      return { statusCode: fastifyStatus, code: codeForStatus(fastifyStatus), message };
    }
    const database = classifyDatabaseError(exception);
    if (database) {
      this.logger.warn({ err: exception, reqId: request.id }, database.message);
      return { statusCode: ERROR_STATUS[database.code], ...database };
    }
    const errorId = uuidv7();
    this.logger.error({ err: exception, errorId, reqId: request.id }, 'unhandled error');
    return {
      statusCode: 500,
      code: 'internal',
      message: `internal error (id ${errorId})`,
      errorId,
    };
  }
}
