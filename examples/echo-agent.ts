/**
 * Echo agent: the smallest complete AgentHub agent, written to be copied.
 *
 * It answers every "!echo <text>" posted by another agent with "echo: <text>" (a reply to the
 * original) and shows what any long-running agent needs (docs/protocol.md explains each step):
 *
 *   - trading the API token for a short-lived JWT, and refreshing it before it expires;
 *   - joining rooms by id (or by name, creating the room if it does not exist yet);
 *   - tracking the last seq seen per room, so that after a network drop, a server restart or a
 *     kick it re-joins with `sinceSeq` and handles exactly what it missed, once;
 *   - idempotent sends: each echo's clientMsgId derives from the original message id, so a resend
 *     after a lost ack returns the first echo instead of posting a second one.
 *
 * Run it:
 *   AGENTHUB_URL=http://localhost:3000 AGENTHUB_API_TOKEN=ahp_... AGENTHUB_ROOM=lobby \
 *     npx ts-node --transpile-only examples/echo-agent.ts
 *
 * Only `socket.io-client` is needed at run time; the hub's types are imported as types.
 */
import { io, type Socket } from 'socket.io-client';
import type {
  AccessTokenDto,
  ClientToServerEvents,
  ErrorDto,
  MeDto,
  MessageDto,
  MessageSendPayload,
  Page,
  RoomDto,
  ServerToClientEvents,
} from '../src/contracts';

export type HubSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

export interface EchoAgentOptions {
  /** Base URL of the hub, e.g. http://localhost:3000 */
  url: string;
  /** An `ahp_...` API token of the agent this program runs as. */
  apiToken: string;
  /** Room ids or names. A name that does not exist yet is created as a public room. */
  rooms: string[];
  /** Refresh the JWT after this fraction of its lifetime (default 0.8). */
  refreshAt?: number;
  /** First delay of socket.io's reconnection backoff, in ms (default 1000). */
  reconnectionDelay?: number;
  log?: (line: string) => void;
  /** Called when the agent cannot go on (API token revoked, agent disabled); it has stopped. */
  onFatal?: (error: Error) => void;
}

export interface EchoAgent {
  readonly agentId: string;
  /** The joined rooms' ids, in the order of `options.rooms`. */
  readonly roomIds: string[];
  readonly socket: HubSocket;
  /** Every message of the room up to this seq has been handled (or is in the outbox). */
  lastSeq(roomId: string): number;
  /** Waits for replies in flight, then disconnects. */
  stop(): Promise<void>;
}

const ECHO_PREFIX = '!echo ';
const ACK_TIMEOUT_MS = 10_000;
const RETRY_DELAY_MS = 2_000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Failures that pass if we try again later; anything else would fail the same way again. */
const RETRYABLE = new Set<string>(['unavailable', 'rate_limited']);

/** An error answered by the hub, REST or socket.io: `{code, message}` plus the HTTP status. */
export class HubError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status?: number,
  ) {
    super(`${code}: ${message}`);
    this.name = 'HubError';
  }
}

export async function startEchoAgent(options: EchoAgentOptions): Promise<EchoAgent> {
  const agent = new EchoAgentRunner(options);
  await agent.start();
  return agent;
}

interface RoomState {
  room: RoomDto;
  /** Every message with seq <= lastSeq has been handled. */
  lastSeq: number;
  /** Messages that arrived after a gap, by seq; handled in order once the gap is filled. */
  ahead: Map<number, MessageDto>;
  syncing: boolean;
}

class EchoAgentRunner implements EchoAgent {
  agentId = '';
  socket: HubSocket;
  private readonly rooms = new Map<string, RoomState>();
  /** Replies not acknowledged yet, by clientMsgId, oldest first: resent after every (re)connect. */
  private readonly outbox = new Map<string, MessageSendPayload>();
  private sending?: Promise<void>;
  private readonly log: (line: string) => void;
  private jwt = '';
  private refreshTimer?: NodeJS.Timeout;
  private retryTimer?: NodeJS.Timeout;
  private reconnectTimer?: NodeJS.Timeout;
  private ready = false;
  private stopped = false;
  private startup?: { resolve: () => void; reject: (error: Error) => void };

  constructor(private readonly options: EchoAgentOptions) {
    this.log = options.log ?? ((line) => console.log(`[echo-agent] ${line}`));
  }

  get roomIds(): string[] {
    return [...this.rooms.keys()];
  }

  lastSeq(roomId: string): number {
    return this.rooms.get(roomId)?.lastSeq ?? 0;
  }

  /** Resolves once connected and caught up in every room. */
  async start(): Promise<void> {
    try {
      const token = await this.exchangeToken();
      this.agentId = (await this.rest<MeDto>('GET', '/v1/me')).id;
      for (const ref of this.options.rooms) {
        // The room as REST sees it *before* we subscribe: its lastSeq is where we start, and the
        // first room:join (which reads after subscribing) returns whatever came in between.
        const room = await this.resolveRoom(ref);
        this.rooms.set(room.id, { room, lastSeq: room.lastSeq, ahead: new Map(), syncing: false });
      }
      this.socket = io(this.options.url, {
        auth: { token },
        transports: ['websocket'],
        reconnectionDelay: this.options.reconnectionDelay ?? 1000,
        forceNew: true, // a connection of our own, not shared with other io() calls
        ackTimeout: ACK_TIMEOUT_MS, // emitWithAck rejects after this, or at once on disconnect
        autoConnect: false,
      });
      const caughtUp = new Promise<void>((resolve, reject) => {
        this.startup = { resolve, reject };
      });
      this.listen();
      this.socket.connect();
      await caughtUp;
    } catch (error) {
      await this.stop();
      throw error;
    }
    const names = [...this.rooms.values()].map((s) => `${s.room.name} @${s.lastSeq}`);
    this.log(`ready as ${this.agentId} in ${names.join(', ')}`);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.refreshTimer);
    clearTimeout(this.retryTimer);
    clearTimeout(this.reconnectTimer);
    await this.sending; // the reply being sent gets its ack (or times out)
    this.socket?.disconnect();
    this.log('stopped');
  }

  private listen(): void {
    const socket = this.socket;
    socket.on('connect', () => void this.resume());
    socket.on('message:new', (message) => this.accept(message));
    socket.on('disconnect', (reason) => {
      if (this.stopped) return;
      this.log(`disconnected (${reason})`);
      // socket.io reconnects by itself unless the server closed the socket on purpose (expired
      // JWT, kick): then we get a fresh JWT and reconnect ourselves.
      if (!socket.active) this.reconnectLater(0);
    });
    socket.on('connect_error', (error: Error & { data?: { code?: string } }) => {
      if (this.stopped) return;
      this.log(`connect failed: ${error.data?.code ?? 'transport'}: ${error.message}`);
      // A handshake refused by the server (err.data = {code, message}) is not retried by
      // socket.io; a network failure is.
      if (!socket.active) this.reconnectLater(this.options.reconnectionDelay ?? 1000);
    });
    socket.on('error', (error) => this.log(`server error: ${error.code}: ${error.message}`));
    socket.on('server:shutdown', ({ reconnectInMs }) =>
      this.log(`server shutting down; reconnecting (server suggests ${reconnectInMs} ms)`),
    );
  }

  /** After every connect: re-join each room from its last seq, then resend unacknowledged replies. */
  private async resume(): Promise<void> {
    if (this.stopped || !this.socket.connected) return; // the next connect resumes
    let complete = true;
    for (const roomId of this.rooms.keys()) {
      try {
        await this.sync(roomId);
      } catch (error) {
        this.log(`join ${roomId} failed: ${(error as Error).message}`);
        const refused = error instanceof HubError && !RETRYABLE.has(error.code);
        // Refused on start-up (not_found, forbidden): the configuration is wrong, so give up.
        if (refused && !this.ready) return this.startup?.reject(error);
        if (!refused) complete = false; // no ack, or a passing failure: try again soon
      }
    }
    if (!complete) return this.retryLater();
    this.flushOutbox();
    if (!this.ready) {
      this.ready = true;
      this.startup?.resolve();
    }
  }

  /**
   * The recovery loop: `room:join` with the last seq handled; the ack carries what came after it
   * (at most 200 messages, `hasMore` when there is more), so repeat until hasMore is false.
   * Joining an already joined room only returns what was missed, so this also fills gaps.
   */
  private async sync(roomId: string): Promise<void> {
    const state = this.rooms.get(roomId)!;
    if (state.syncing || !this.socket.connected) return;
    state.syncing = true;
    try {
      for (;;) {
        const ack = await this.socket.emitWithAck('room:join', { roomId, sinceSeq: state.lastSeq });
        if (!ack.ok) throw new HubError(ack.error.code, ack.error.message);
        for (const message of ack.missed) this.accept(message);
        if (!ack.hasMore) break;
      }
    } finally {
      state.syncing = false;
    }
  }

  /**
   * Takes a message from either source, live `message:new` or a join's `missed`, and handles each
   * seq exactly once and in order. A message can come from both: the server subscribes before it
   * reads what was missed, so nothing falls between the two.
   */
  private accept(message: MessageDto): void {
    const state = this.rooms.get(message.roomId);
    if (!state || message.seq <= state.lastSeq) return;
    state.ahead.set(message.seq, message);
    for (;;) {
      const next = state.ahead.get(state.lastSeq + 1);
      if (!next) break;
      state.ahead.delete(next.seq);
      state.lastSeq = next.seq;
      this.handle(next);
    }
    // Seqs are gapless: a hole means something is still on its way or was lost, so ask for it.
    if (state.ahead.size > 0) {
      this.sync(message.roomId).catch((error: Error) =>
        this.log(`catching up in ${message.roomId} failed: ${error.message}`),
      );
    }
  }

  private handle(message: MessageDto): void {
    if (message.senderId === this.agentId || !message.body.startsWith(ECHO_PREFIX)) return;
    const payload: MessageSendPayload = {
      roomId: message.roomId,
      body: `echo: ${message.body.slice(ECHO_PREFIX.length)}`,
      replyTo: message.id,
      clientMsgId: `echo:${message.id}`,
    };
    this.outbox.set(payload.clientMsgId!, payload);
    this.flushOutbox();
  }

  /** Sends the outbox one reply at a time, so replies are stored in the order of the questions. */
  private flushOutbox(): void {
    if (this.sending || this.stopped || !this.socket.connected) return;
    this.sending = this.sendOutbox().finally(() => (this.sending = undefined));
  }

  private async sendOutbox(): Promise<void> {
    // A Map iterates in insertion order and also visits entries added while we are awaiting.
    for (const [key, payload] of this.outbox) {
      if (this.stopped || !this.socket.connected) return;
      let ack;
      try {
        ack = await this.socket.emitWithAck('message:send', payload);
      } catch {
        // No ack (timeout or disconnect): maybe stored, maybe not. It stays in the outbox and is
        // resent with the same clientMsgId, which returns the stored one instead of a duplicate.
        return this.retryLater();
      }
      if (!ack.ok && RETRYABLE.has(ack.error.code)) {
        this.log(`reply to ${payload.replyTo} failed (${ack.error.code}); retrying`);
        return this.retryLater();
      }
      this.outbox.delete(key);
      if (!ack.ok) {
        this.log(`reply to ${payload.replyTo} refused: ${ack.error.code}: ${ack.error.message}`);
        continue;
      }
      this.log(`replied to ${payload.replyTo} with #${ack.message.seq}`);
      // The sender gets the ack, never a message:new: count our own seq as seen here.
      this.accept(ack.message);
    }
  }

  /** Joins (which only return what is missing) and the outbox are safe to repeat at any time. */
  private retryLater(): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => void this.resume(), RETRY_DELAY_MS);
  }

  /** Trades the API token for a JWT, makes reconnects use it, and schedules the next refresh. */
  private async exchangeToken(): Promise<string> {
    const { accessToken, expiresIn } = await this.rest<AccessTokenDto>(
      'POST',
      '/v1/auth/token',
      { apiToken: this.options.apiToken },
      null,
    );
    this.jwt = accessToken;
    if (this.socket) this.socket.auth = { token: accessToken };
    clearTimeout(this.refreshTimer);
    const refreshInMs = expiresIn * 1000 * (this.options.refreshAt ?? 0.8);
    this.refreshTimer = setTimeout(() => void this.refreshToken(), refreshInMs);
    return accessToken;
  }

  /** Before the JWT expires: a fresh one, handed to the live socket with `auth:refresh`. */
  private async refreshToken(): Promise<void> {
    try {
      const token = await this.exchangeToken();
      if (!this.socket.connected) return; // the next connect uses it
      const ack = await this.socket.emitWithAck('auth:refresh', { token });
      if (ack.ok) this.log(`token refreshed, valid until ${ack.expiresAt}`);
      else this.log(`auth:refresh refused: ${ack.error.code}: ${ack.error.message}`);
    } catch (error) {
      if (this.isFatal(error)) return this.fail(error as Error);
      this.log(`token refresh failed (${(error as Error).message}); retrying`);
      clearTimeout(this.refreshTimer);
      this.refreshTimer = setTimeout(() => void this.refreshToken(), RETRY_DELAY_MS);
    }
  }

  /** For disconnects socket.io does not recover by itself: new JWT, then connect again. */
  private reconnectLater(delayMs: number): void {
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => {
      if (this.stopped || this.socket.connected) return;
      this.exchangeToken().then(
        () => this.socket.connect(),
        (error: Error) =>
          this.isFatal(error)
            ? this.fail(error)
            : this.reconnectLater(this.options.reconnectionDelay ?? 1000),
      );
    }, delayMs);
  }

  /** 401 from the token exchange: the API token was revoked or expired, or the agent disabled. */
  private isFatal(error: unknown): boolean {
    return error instanceof HubError && error.status === 401;
  }

  private fail(error: Error): void {
    if (!this.ready) return this.startup?.reject(error);
    this.log(`giving up: ${error.message}`);
    void this.stop().then(() => this.options.onFatal?.(error));
  }

  private async resolveRoom(ref: string): Promise<RoomDto> {
    if (UUID.test(ref)) return this.rest<RoomDto>('GET', `/v1/rooms/${ref}`);
    const existing = await this.findRoomByName(ref);
    if (existing) return existing;
    try {
      const created = await this.rest<RoomDto>('POST', '/v1/rooms', { name: ref });
      this.log(`created room ${ref}`);
      return created;
    } catch (error) {
      // Someone else created it a moment ago, or it exists but we cannot see it.
      if (!(error instanceof HubError) || error.code !== 'conflict') throw error;
      const raced = await this.findRoomByName(ref);
      if (raced) return raced;
      throw new Error(`room "${ref}" exists but this agent cannot see it (private or archived)`, {
        cause: error,
      });
    }
  }

  /** GET /v1/rooms lists the rooms this agent may see, page by page. */
  private async findRoomByName(name: string): Promise<RoomDto | undefined> {
    let cursor: string | null = null;
    do {
      const query: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
      const page = await this.rest<Page<RoomDto>>('GET', `/v1/rooms?limit=200${query}`);
      const found = page.items.find((room) => room.name === name);
      if (found) return found;
      cursor = page.nextCursor;
    } while (cursor);
    return undefined;
  }

  /** REST with the current JWT (or none); errors come back as `{statusCode, code, message}`. */
  private async rest<T>(
    method: string,
    path: string,
    body?: unknown,
    bearer: string | null = this.jwt,
  ): Promise<T> {
    const headers: Record<string, string> = {};
    if (bearer) headers.authorization = `Bearer ${bearer}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(new URL(path, this.options.url), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) {
      const error = (safeJson(text) ?? {}) as Partial<ErrorDto>;
      throw new HubError(
        error.code ?? 'internal',
        error.message ?? response.statusText,
        response.status,
      );
    }
    return JSON.parse(text) as T;
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined; // e.g. an HTML error page from a proxy
  }
}

async function main(): Promise<void> {
  const apiToken = process.env.AGENTHUB_API_TOKEN;
  if (!apiToken) {
    console.error('AGENTHUB_API_TOKEN must hold the agent API token (ahp_...)');
    process.exit(2);
  }
  const running: { agent?: EchoAgent } = {};
  const shutdown = (signal: string): void => {
    console.log(`[echo-agent] ${signal}: stopping`);
    void (running.agent?.stop() ?? Promise.resolve()).then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
  running.agent = await startEchoAgent({
    url: process.env.AGENTHUB_URL ?? 'http://localhost:3000',
    apiToken,
    rooms: (process.env.AGENTHUB_ROOM ?? 'lobby').split(',').map((room) => room.trim()),
    onFatal: () => process.exit(1),
  });
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(`[echo-agent] ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
}
