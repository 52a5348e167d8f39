import { Controller, Get, Param } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal } from '../auth/decorators';
import type { Principal } from '../common/actor';
import type { PresenceListResult } from '../contracts/socket-events';
import { PresenceService } from './presence.service';

@ApiTags('rooms')
@ApiBearerAuth()
@Controller('v1/rooms/:id/presence')
export class PresenceController {
  constructor(private readonly presence: PresenceService) {}

  @Get()
  async list(
    @CurrentPrincipal() principal: Principal,
    @Param('id') roomId: string,
  ): Promise<PresenceListResult> {
    return { agents: await this.presence.list(principal, roomId) };
  }
}
