import { Controller, Get } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal } from '../auth/decorators';
import type { Principal } from '../common/actor';
import type { MeDto } from '../contracts/rest';
import { AgentsService } from './agents.service';

@ApiTags('auth')
@ApiBearerAuth()
@Controller('v1/me')
export class MeController {
  constructor(private readonly agents: AgentsService) {}

  @Get()
  async me(@CurrentPrincipal() principal: Principal): Promise<MeDto> {
    const agent = await this.agents.get(principal.agentId);
    return {
      ...agent,
      auth: {
        method: principal.jti ? 'jwt' : 'api_token',
        expiresAt: principal.exp ? new Date(principal.exp * 1000).toISOString() : null,
      },
    };
  }
}
