import type { INestApplicationContext } from '@nestjs/common';
import { EventEmitter } from 'node:events';
import { type IncomingMessage, type Server as HttpServer, ServerResponse } from 'node:http';
import { IoAdapter } from '@nestjs/platform-socket.io';
import type { MessageMappingProperties } from '@nestjs/websockets';
import type { Server, ServerOptions, Socket } from 'socket.io';
import { OriginPolicy } from '../common/origin-policy';
import { securityHeaders } from '../common/security-headers';
import type { AppConfig } from '../config/app-config';
import { MAX_DATA_BYTES } from '../messages/dto/message.dto';
import { installDirectFrames } from './direct-frames';
import { compactConnectionListeners, compactListenerTable } from './listener-tables';
import { attachRedisAdapter } from './redis-adapter';

/** Envelope, ids and JSON escaping around the largest valid body + data. */
const FRAME_OVERHEAD_BYTES = 4096;

/** The largest socket.io frame we read: room for the largest valid message and no more. */
export function maxFrameBytes(config: AppConfig): number {
  return Math.max(128 * 1024, config.maxMessageBytes + MAX_DATA_BYTES + FRAME_OVERHEAD_BYTES);
}

const BOUND_HANDLERS = Symbol('agenthub.boundHandlers');

type SocketWithHandlers = Socket & {
  [BOUND_HANDLERS]: Array<MessageMappingProperties['callback']>;
};

type SharedListener = (this: Socket, ...payload: unknown[]) => void;

const UPGRADE_RESPONSE = Symbol('agenthub.upgradeResponse');

/**
 * engine.io hands a WebSocket upgrade's middlewares a stand-in response that stays referenced
 * (through a listener on the TCP socket) for the connection's life and holds the upgrade request:
 * an engine.io middleware notes which response goes with which request, so that
 * releaseUpgradeRequest can let go of the request once the socket is admitted.
 */
function rememberUpgradeResponses(server: Server): void {
  server.engine.use((request: IncomingMessage, response: unknown, next: () => void) => {
    (request as { [UPGRADE_RESPONSE]?: unknown })[UPGRADE_RESPONSE] = response;
    next();
  });
}

/**
 * Drops the references an idle socket keeps to its HTTP upgrade request (the IncomingMessage with
 * its raw headers and stream state, about 1 KiB per connection): engine.io's `conn.request` and
 * the stand-in response's `req`. Nothing reads them after the handshake; `socket.handshake`, which
 * socket.io built from the request, keeps its headers, address, url and query.
 */
export function releaseUpgradeRequest(socket: Socket): void {
  const conn = socket.conn as { request?: IncomingMessage & { [UPGRADE_RESPONSE]?: unknown } };
  const response = conn.request?.[UPGRADE_RESPONSE];
  // Long polling gets Node's own ServerResponse, whose `req` is not ours to clear.
  if (response instanceof EventEmitter && !(response instanceof ServerResponse)) {
    (response as { req?: unknown }).req = undefined;
    compactListenerTable(response);
  }
  conn.request = undefined;
}

/**
 * socket.io server options that must be set when the server is created: the Origin check of
 * ALLOWED_ORIGINS on the handshake (CORS does not cover WebSockets), the frame cap, no
 * per-message deflate (CPU per message) and no connection-state recovery (seq-based recovery is
 * ours and works across nodes and restarts). Authentication runs as middleware in the gateway.
 */
export class AgentHubIoAdapter extends IoAdapter {
  private readonly origins: OriginPolicy;
  private closeRedis: (() => Promise<void>) | undefined;
  /** The shared listener of each handler, by its index, ack mode and event name. */
  private readonly listeners = new Map<string, SharedListener>();

  constructor(
    app: INestApplicationContext,
    private readonly config: AppConfig,
  ) {
    super(app);
    this.origins = new OriginPolicy(config.allowedOrigins);
  }

  override createIOServer(port: number, options?: ServerOptions): Server {
    const server = super.createIOServer(port, {
      ...options,
      maxHttpBufferSize: maxFrameBytes(this.config),
      perMessageDeflate: false,
      httpCompression: false,
      pingInterval: 20_000,
      pingTimeout: 20_000,
      connectTimeout: 10_000,
      serveClient: false,
      cors: {
        origin: (
          origin: string | undefined,
          callback: (error: Error | null, allow?: boolean) => void,
        ) => callback(null, this.origins.allows(origin)),
        credentials: false,
      },
      allowRequest: (request, callback) => {
        const allowed = this.origins.allows(request.headers.origin);
        callback(allowed ? null : 'origin not allowed', allowed);
      },
    } as ServerOptions);
    this.addSecurityHeaders(server);
    rememberUpgradeResponses(server);
    if (this.config.redisUrl)
      this.closeRedis = attachRedisAdapter(
        server,
        this.config.redisUrl,
        this.config.redisKeyPrefix,
      );
    return server;
  }

  /**
   * engine.io answers its own HTTP requests (the handshake, long polling, and refusals such as the
   * 403 for a foreign Origin) without passing through Fastify, so helmet never sees them. A
   * request listener ahead of engine.io's sets the same headers on those responses; engine.io's
   * writeHead keeps headers already set. WebSocket upgrades are answered on the raw socket and
   * carry no page a browser would render.
   */
  private addSecurityHeaders(server: Server): void {
    const httpServer = (server as unknown as { httpServer?: HttpServer }).httpServer;
    if (!httpServer) return;
    // engine.io's own match (its path plus '/', with socket.io's default addTrailingSlash).
    const prefix = `${server.path()}/`;
    const headers = Object.entries(securityHeaders(this.config));
    httpServer.prependListener('request', (request: IncomingMessage, response: ServerResponse) => {
      if (!request.url?.startsWith(prefix)) return;
      for (const [name, value] of headers) response.setHeader(name, value);
    });
  }

  /**
   * Binds each @SubscribeMessage handler with one listener shared by every socket. Nest's default
   * builds an rxjs pipeline per handler per socket (about 45 KiB per idle connection, and
   * measurable CPU per message); a closure per handler per socket would still cost about 0.5 KiB
   * per idle connection. The socket keeps only the array of Nest's handlers bound to it; the
   * shared listener finds its socket as `this` (EventEmitter calls listeners on the emitter). The
   * handlers return promises, and their errors already reach WsExceptionFilter inside Nest's
   * proxy, which answers the ack.
   */
  override bindMessageHandlers(socket: Socket, handlers: MessageMappingProperties[]): void {
    (socket as SocketWithHandlers)[BOUND_HANDLERS] = handlers.map(({ callback }) => callback);
    handlers.forEach(({ message, isAckHandledManually }, index) => {
      socket.on(String(message), this.sharedListener(String(message), index, isAckHandledManually));
    });
  }

  /**
   * Nest's last step in setting up a connection. `on` rather than `once`: socket.io emits
   * `disconnect` once per socket, and a once-wrapper costs memory on every idle connection. Then
   * the connection's listener tables are compacted (listener-tables.ts), and packets to WebSocket
   * connections (broadcasts, acks, emits) are written straight to their TCP sockets
   * (direct-frames.ts; installed once).
   */
  override bindClientDisconnect(socket: Socket, callback: (reason: string) => void): void {
    socket.on('disconnect', callback);
    compactConnectionListeners(socket);
    installDirectFrames(socket);
  }

  private sharedListener(
    message: string,
    index: number,
    isAckHandledManually: boolean,
  ): SharedListener {
    const key = `${index}:${isAckHandledManually}:${message}`;
    const known = this.listeners.get(key);
    if (known) return known;
    const dispatch = (socket: Socket, payload: unknown[]): void => {
      const callback = (socket as SocketWithHandlers)[BOUND_HANDLERS][index];
      // As rxjs' fromEvent does: one argument is passed as itself, several as an array.
      const { data, ack } = this.mapPayload(payload.length === 1 ? payload[0] : payload) as {
        data: unknown;
        ack?: unknown;
      };
      Promise.resolve(callback(data, ack) as unknown).then(
        (response: unknown) => {
          if (response === undefined || response === null) return;
          const event = (response as { event?: unknown }).event;
          if (typeof event === 'string') {
            socket.emit(event, (response as { data?: unknown }).data);
            return;
          }
          if (!isAckHandledManually && typeof ack === 'function')
            (ack as (value: unknown) => void)(response);
        },
        (error: unknown) => this.logger.error(error),
      );
    };
    const listener: SharedListener = function (this: Socket, ...payload: unknown[]): void {
      dispatch(this, payload);
    };
    this.listeners.set(key, listener);
    return listener;
  }

  override async close(server: Server): Promise<void> {
    await super.close(server);
    await this.closeRedis?.();
  }
}
