import { Controller, HttpCode, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import type { Actor } from '../common/actor';
import { AuthService } from './auth.service';
import { AdminOnly, RequestActor } from './decorators';

@ApiTags('agents')
@ApiBearerAuth()
@AdminOnly()
@Controller('v1/agents')
export class SessionsController {
  constructor(private readonly auth: AuthService) {}

  /** Revokes every JWT the agent holds and cuts its live sockets; its API tokens stay valid. */
  @Post(':id/revoke-sessions')
  @HttpCode(204)
  async revoke(@Param('id') agentId: string, @RequestActor() actor: Actor): Promise<void> {
    await this.auth.revokeSessions(agentId, actor);
  }
}
