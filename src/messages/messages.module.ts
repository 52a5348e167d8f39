import { Module } from '@nestjs/common';
import { RoomsModule } from '../rooms/rooms.module';
import { InDoubtMessages } from './in-doubt-messages';
import { MessageMetrics } from './message-metrics';
import { MessageStore } from './message-store';
import { MessageWriter } from './message-writer';
import { MessagesController } from './messages.controller';
import { MessagesRepository } from './messages.repository';
import { MessagesService } from './messages.service';

@Module({
  imports: [RoomsModule],
  controllers: [MessagesController],
  providers: [
    MessagesRepository,
    MessageStore,
    MessageWriter,
    InDoubtMessages,
    MessagesService,
    MessageMetrics,
  ],
  exports: [MessagesService, MessageMetrics, MessageWriter],
})
export class MessagesModule {}
