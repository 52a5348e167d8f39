import { Inject, Injectable, Module, OnApplicationShutdown } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { uuidv7 } from '../common/uuid';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { createRedisClient } from '../redis/redis.module';
import { AgentsModule } from '../agents/agents.module';
import { AuthModule } from '../auth/auth.module';
import { MessagesModule } from '../messages/messages.module';
import { RoomsModule } from '../rooms/rooms.module';
import { EventsGateway } from './events.gateway';
import { PresenceController } from './presence.controller';
import { PresenceService } from './presence.service';
import {
  MemoryPresenceStore,
  PRESENCE_EXPIRED,
  PRESENCE_STORE,
  type PresenceStore,
} from './presence.store';
import { RedisPresenceStore } from './redis-presence.store';
import { SocketAdmission } from './socket-admission';
import { SocketCutoffs } from './socket-cutoffs';
import { SocketLimits } from './socket-limits';
import { SocketSessions } from './socket-sessions';

/** Runs after the socket.io server closed (its sockets already left): withdraw this node. */
@Injectable()
class PresenceLifecycle implements OnApplicationShutdown {
  constructor(@Inject(PRESENCE_STORE) private readonly store: PresenceStore) {}

  onApplicationShutdown(): Promise<void> {
    return this.store.close();
  }
}

@Module({
  imports: [AgentsModule, AuthModule, RoomsModule, MessagesModule],
  controllers: [PresenceController],
  providers: [
    EventsGateway,
    PresenceService,
    SocketSessions,
    SocketLimits,
    SocketAdmission,
    SocketCutoffs,
    {
      provide: PRESENCE_STORE,
      inject: [APP_CONFIG, EventEmitter2],
      useFactory: (config: AppConfig, events: EventEmitter2): PresenceStore =>
        config.redisUrl
          ? new RedisPresenceStore(
              createRedisClient(config.redisUrl, 'presence'),
              config.redisKeyPrefix,
              uuidv7(),
              (expiry) => events.emit(PRESENCE_EXPIRED, expiry),
            )
          : new MemoryPresenceStore(),
    },
    PresenceLifecycle,
  ],
  exports: [PresenceService, SocketSessions, SocketLimits],
})
export class RealtimeModule {}
