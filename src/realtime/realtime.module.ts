import { Module } from '@nestjs/common';
import { AgentsModule } from '../agents/agents.module';
import { AuthModule } from '../auth/auth.module';
import { MessagesModule } from '../messages/messages.module';
import { RoomsModule } from '../rooms/rooms.module';
import { EventsGateway } from './events.gateway';
import { PresenceController } from './presence.controller';
import { PresenceService } from './presence.service';
import { MemoryPresenceStore, PRESENCE_STORE } from './presence.store';
import { SocketLimits } from './socket-limits';
import { SocketSessions } from './socket-sessions';

@Module({
  imports: [AgentsModule, AuthModule, RoomsModule, MessagesModule],
  controllers: [PresenceController],
  providers: [
    EventsGateway,
    PresenceService,
    SocketSessions,
    SocketLimits,
    { provide: PRESENCE_STORE, useClass: MemoryPresenceStore },
  ],
  exports: [PresenceService, SocketSessions, SocketLimits],
})
export class RealtimeModule {}
