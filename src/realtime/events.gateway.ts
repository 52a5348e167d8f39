import { BeforeApplicationShutdown, Inject, UseFilters } from '@nestjs/common';
import { OnEvent } from '@nestjs/event-emitter';
import {
  ConnectedSocket,
  MessageBody,
  OnGatewayConnection,
  OnGatewayDisconnect,
  OnGatewayInit,
  SubscribeMessage,
  WebSocketGateway,
  WebSocketServer,
} from '@nestjs/websockets';
import { InjectMetric } from '@willsoto/nestjs-prometheus';
import type { Gauge } from 'prom-client';
import { AgentsRepository } from '../agents/agents.repository';
import { AuthService } from '../auth/auth.service';
import type { Actor } from '../common/actor';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { ReadinessState } from '../health/readiness.service';
import { createValidationPipe } from '../common/validation';
import { AppError, forbidden } from '../common/errors';
import type {
  AckResponse,
  AuthRefreshResult,
  MessageSendResult,
  PresenceListResult,
  RoomJoinResult,
} from '../contracts/socket-events';
import { MessageMetrics } from '../messages/message-metrics';
import { MESSAGE_CREATED, type MessageCreatedEvent } from '../messages/message-events';
import { MessagesService } from '../messages/messages.service';
import { METRIC } from '../metrics/metric-names';
import { toRoomDto } from '../rooms/rooms.mapper';
import type { MemberRemovedEvent } from '../rooms/rooms.service';
import { RoomsService } from '../rooms/rooms.service';
import { AuthRefreshDto, JoinRoomDto, RoomRefDto, SocketSendMessageDto } from './dto/socket.dto';
import { PresenceService } from './presence.service';
import { PRESENCE_EXPIRED } from './presence.store';
import type { PresenceExpiry } from './redis-presence.store';
import { SocketAdmission } from './socket-admission';
import { SocketCutoffs } from './socket-cutoffs';
import { SocketLimits } from './socket-limits';
import { SocketSessions } from './socket-sessions';
import { AgentServer, AgentSocket, channel } from './socket-types';
import { WsExceptionFilter } from './ws-exception.filter';
import { directListener } from './direct-events';

/**
 * The socket.io protocol of DESIGN.md. Payloads go through the global SafeValidationPipe like REST
 * bodies; every client event answers through its ack with `{ok:true, ...}` or `{ok:false, error}`
 * (WsExceptionFilter); the handshake is authenticated with the same AuthService as REST. The hot
 * event, `message:send`, is bound per socket outside Nest's pipeline with the same pipe and filter
 * (direct-events.ts); the others are @SubscribeMessage handlers.
 */
@WebSocketGateway()
@UseFilters(WsExceptionFilter)
export class EventsGateway
  implements OnGatewayInit, OnGatewayConnection, OnGatewayDisconnect, BeforeApplicationShutdown
{
  @WebSocketServer() private readonly server: AgentServer;
  private inFlightSends = 0;
  private readonly onSend = directListener(
    SocketSendMessageDto,
    createValidationPipe(),
    new WsExceptionFilter(),
    (socket, payload) => this.send(socket, payload),
  );

  constructor(
    private readonly auth: AuthService,
    private readonly rooms: RoomsService,
    private readonly messages: MessagesService,
    private readonly presence: PresenceService,
    private readonly sessions: SocketSessions,
    private readonly agents: AgentsRepository,
    private readonly messageMetrics: MessageMetrics,
    private readonly socketLimits: SocketLimits,
    private readonly admission: SocketAdmission,
    private readonly cutoffs: SocketCutoffs,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly readiness: ReadinessState,
    @InjectMetric(METRIC.wsConnections) private readonly connections: Gauge,
  ) {}

  afterInit(server: AgentServer): void {
    this.cutoffs.attach(server);
    server.on('member-removed', (roomId: string, agentId: string) => {
      void this.unsubscribeLocal(roomId, agentId);
    });
    this.admission.install(server);
  }

  async handleConnection(socket: AgentSocket): Promise<void> {
    const { principal } = socket.data;
    socket.on('message:send', this.onSend);
    this.connections.inc();
    this.socketLimits.attach(socket, () => this.actor(socket));
    await socket.join([
      channel.agent(principal.agentId),
      ...(principal.tokenId ? [channel.token(principal.tokenId)] : []),
      ...(principal.jti ? [channel.jwt(principal.jti)] : []),
    ]);
    this.armExpiry(socket);
    void this.agents.touchLastSeen(principal.agentId).catch(() => undefined);
  }

  async handleDisconnect(socket: AgentSocket): Promise<void> {
    this.connections.dec();
    this.sessions.clear(socket.id);
    this.socketLimits.detach(socket.id);
    const data = socket.data as Partial<typeof socket.data>;
    if (!data.principal) return;
    for (const roomId of data.rooms ?? []) await this.leavePresence(socket, roomId);
  }

  @SubscribeMessage('room:join')
  async join(
    @ConnectedSocket() socket: AgentSocket,
    @MessageBody() payload: JoinRoomDto,
  ): Promise<AckResponse<RoomJoinResult>> {
    const { principal } = socket.data;
    const { room } = await this.rooms.join(principal, payload.roomId, this.actor(socket));
    // Subscribe before reading what was missed: a message committed in between is then delivered
    // live (and maybe also in `missed`); clients de-duplicate by seq, and nothing falls in a gap.
    if (!socket.data.rooms.includes(room.id)) {
      await socket.join(channel.room(room.id));
      socket.data.rooms.push(room.id);
      if (await this.presence.enter(room.id, principal.agentId, socket.id)) {
        this.server.to(channel.room(room.id)).emit('presence:update', {
          roomId: room.id,
          agentId: principal.agentId,
          status: 'online',
        });
      }
    }
    const missed =
      payload.sinceSeq === undefined
        ? { items: [], hasMore: false }
        : await this.messages.since(room.id, payload.sinceSeq);
    return { ok: true, room: toRoomDto(room), missed: missed.items, hasMore: missed.hasMore };
  }

  @SubscribeMessage('room:leave')
  async leave(
    @ConnectedSocket() socket: AgentSocket,
    @MessageBody() payload: RoomRefDto,
  ): Promise<AckResponse> {
    if (socket.data.rooms.includes(payload.roomId)) {
      await socket.leave(channel.room(payload.roomId));
      await this.leavePresence(socket, payload.roomId);
    }
    return { ok: true };
  }

  /** `message:send`, bound in handleConnection outside Nest's pipeline (direct-events.ts). */
  async send(
    socket: AgentSocket,
    payload: SocketSendMessageDto,
  ): Promise<AckResponse<MessageSendResult>> {
    const started = performance.now();
    if (this.readiness.isDraining)
      throw new AppError('unavailable', 'server is shutting down; resend after reconnecting');
    this.inFlightSends += 1;
    try {
      // The payload is the input: the service reads only SendMessageDto's fields (no copy).
      const { message, duplicate } = await this.messages.send(
        socket.data.principal,
        payload.roomId,
        payload,
        socket.id,
      );
      if (!duplicate) this.messageMetrics.sent(started);
      return { ok: true, message };
    } finally {
      this.inFlightSends -= 1;
    }
  }

  @SubscribeMessage('presence:list')
  async presenceList(
    @ConnectedSocket() socket: AgentSocket,
    @MessageBody() payload: RoomRefDto,
  ): Promise<AckResponse<PresenceListResult>> {
    return { ok: true, agents: await this.presence.list(socket.data.principal, payload.roomId) };
  }

  /** Relayed as a volatile event (dropped rather than queued) to the room's other sockets. */
  @SubscribeMessage('typing')
  typing(@ConnectedSocket() socket: AgentSocket, @MessageBody() payload: RoomRefDto): AckResponse {
    if (!socket.data.rooms.includes(payload.roomId)) throw forbidden('join the room first');
    socket.volatile
      .to(channel.room(payload.roomId))
      .emit('typing', { roomId: payload.roomId, agentId: socket.data.principal.agentId });
    return { ok: true };
  }

  @SubscribeMessage('auth:refresh')
  async refresh(
    @ConnectedSocket() socket: AgentSocket,
    @MessageBody() payload: AuthRefreshDto,
  ): Promise<AckResponse<AuthRefreshResult>> {
    const principal = await this.auth.authenticateJwt(payload.token, this.actor(socket));
    if (principal.agentId !== socket.data.principal.agentId)
      throw forbidden('the new token belongs to another agent');
    const previous = socket.data.principal;
    if (previous.jti) await socket.leave(channel.jwt(previous.jti));
    if (previous.tokenId) await socket.leave(channel.token(previous.tokenId));
    await socket.join([
      ...(principal.jti ? [channel.jwt(principal.jti)] : []),
      ...(principal.tokenId ? [channel.token(principal.tokenId)] : []),
    ]);
    socket.data.principal = principal;
    this.socketLimits.refresh(socket);
    this.armExpiry(socket);
    return { ok: true, expiresAt: new Date((principal.exp ?? 0) * 1000).toISOString() };
  }

  /** Fan-out after commit; the sending socket has its ack instead. */
  @OnEvent(MESSAGE_CREATED)
  onMessageCreated(event: MessageCreatedEvent): void {
    const target = this.server.to(channel.room(event.message.roomId));
    (event.originSocketId ? target.except(event.originSocketId) : target).emit(
      'message:new',
      event.message,
    );
  }

  /**
   * Graceful shutdown: tell this node's sockets when to reconnect (jittered, to spread the load
   * over the other nodes or the restarted one). The transports then close with the server, which
   * socket.io clients treat as a drop and reconnect from on their own. Every acknowledged message
   * was committed before its ack, so nothing acknowledged is lost.
   */
  async beforeApplicationShutdown(): Promise<void> {
    this.readiness.startDraining();
    const reconnectInMs = 500 + Math.floor(Math.random() * 1500);
    this.server.local.emit('server:shutdown', { reconnectInMs });
    // Sends already inside the handler finish and are acknowledged; new ones are refused above.
    const deadline = Date.now() + DRAIN_SENDS_MS;
    while (this.inFlightSends > 0 && Date.now() < deadline)
      await new Promise((tick) => setTimeout(tick, 10));
    await new Promise((flushed) => setTimeout(flushed, 50));
  }

  /** Removed members stop receiving the room at once. */
  @OnEvent('member-removed')
  async onMemberRemoved(event: MemberRemovedEvent): Promise<void> {
    if (this.config.redisUrl)
      this.server.serverSideEmit('member-removed', event.targetId, event.data.agentId);
    await this.unsubscribeLocal(event.targetId, event.data.agentId);
  }

  /** Other nodes' subscriptions are dropped by their own gateway (serverSideEmit). */
  private async unsubscribeLocal(roomId: string, agentId: string): Promise<void> {
    for (const socket of await this.server.local.in(channel.agent(agentId)).fetchSockets()) {
      const local = this.server.sockets.sockets.get(socket.id);
      if (!local || !local.data.rooms.includes(roomId)) continue;
      await local.leave(channel.room(roomId));
      await this.leavePresence(local, roomId);
    }
  }

  /** A dead node's agents, seen offline by the presence sweep of a live node. */
  @OnEvent(PRESENCE_EXPIRED)
  onPresenceExpired(expiry: PresenceExpiry): void {
    this.server
      .to(channel.room(expiry.roomId))
      .emit('presence:update', { ...expiry, status: 'offline' });
  }

  private armExpiry(socket: AgentSocket): void {
    const exp = socket.data.principal.exp;
    if (!exp) return;
    this.sessions.arm(socket.id, exp, () => {
      socket.emit('error', {
        code: 'unauthorized',
        message: 'access token expired; reconnect with a new one or send auth:refresh before exp',
      });
      socket.disconnect(true);
    });
  }

  private async leavePresence(socket: AgentSocket, roomId: string): Promise<void> {
    socket.data.rooms = socket.data.rooms.filter((id) => id !== roomId);
    const agentId = socket.data.principal.agentId;
    if (await this.presence.leave(roomId, agentId, socket.id)) {
      this.server
        .to(channel.room(roomId))
        .emit('presence:update', { roomId, agentId, status: 'offline' });
    }
  }

  private actor(socket: AgentSocket): Actor {
    return { agentId: socket.data.principal.agentId, ip: socket.data.ip, requestId: socket.id };
  }
}

/** How long shutdown waits for sends already being stored (the query timeout is 4 s). */
const DRAIN_SENDS_MS = 6000;
