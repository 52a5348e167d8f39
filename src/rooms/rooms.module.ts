import { Module } from '@nestjs/common';
import { AgentsModule } from '../agents/agents.module';
import { DirectRoomsService } from './direct-rooms.service';
import { RoomsController } from './rooms.controller';
import { RoomsRepository } from './rooms.repository';
import { RoomsService } from './rooms.service';

@Module({
  imports: [AgentsModule],
  controllers: [RoomsController],
  providers: [RoomsRepository, RoomsService, DirectRoomsService],
  exports: [RoomsRepository, RoomsService],
})
export class RoomsModule {}
