import { Module } from '@nestjs/common';
import { RoomsModule } from '../rooms/rooms.module';
import { MessageMetrics } from './message-metrics';
import { MessagesController } from './messages.controller';
import { MessagesRepository } from './messages.repository';
import { MessagesService } from './messages.service';

@Module({
  imports: [RoomsModule],
  controllers: [MessagesController],
  providers: [MessagesRepository, MessagesService, MessageMetrics],
  exports: [MessagesService, MessageMetrics],
})
export class MessagesModule {}
