import { Body, Controller, Get, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal } from '../auth/decorators';
import type { Principal } from '../common/actor';
import type { MessageDto, MessagePage } from '../contracts/rest';
import { MessageMetrics } from './message-metrics';
import { HistoryQueryDto, SendMessageDto } from './dto/message.dto';
import { MessagesService } from './messages.service';

@ApiTags('messages')
@ApiBearerAuth()
@Controller('v1/rooms/:id/messages')
export class MessagesController {
  constructor(
    private readonly messages: MessagesService,
    private readonly metrics: MessageMetrics,
  ) {}

  @Get()
  history(
    @CurrentPrincipal() principal: Principal,
    @Param('id') roomId: string,
    @Query() query: HistoryQueryDto,
  ): Promise<MessagePage> {
    return this.messages.history(principal, roomId, query);
  }

  /** Stored, then fanned out to every subscribed socket; 201 with the message (or the original on resend). */
  @Post()
  async send(
    @CurrentPrincipal() principal: Principal,
    @Param('id') roomId: string,
    @Body() body: SendMessageDto,
  ): Promise<MessageDto> {
    const started = performance.now();
    const { message, duplicate } = await this.messages.send(principal, roomId, body);
    if (!duplicate) this.metrics.sent(started);
    return message;
  }
}
