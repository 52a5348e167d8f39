import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { AdminOnly, RequestActor } from '../auth/decorators';
import type { Actor } from '../common/actor';
import { PageQueryDto } from '../common/pagination';
import type { AgentDto, ApiTokenDto, CreatedApiTokenDto, Page } from '../contracts/rest';
import { AgentsService } from './agents.service';
import { CreateAgentDto, CreateApiTokenDto, UpdateAgentDto } from './dto/agent.dto';

@ApiTags('agents')
@ApiBearerAuth()
@AdminOnly()
@Controller('v1')
export class AgentsController {
  constructor(private readonly agents: AgentsService) {}

  @Get('agents')
  list(@Query() query: PageQueryDto): Promise<Page<AgentDto>> {
    return this.agents.list(query.cursor, query.limit);
  }

  @Post('agents')
  create(@Body() body: CreateAgentDto, @RequestActor() actor: Actor): Promise<AgentDto> {
    return this.agents.create(body, actor);
  }

  @Get('agents/:id')
  get(@Param('id') id: string): Promise<AgentDto> {
    return this.agents.get(id);
  }

  @Patch('agents/:id')
  update(
    @Param('id') id: string,
    @Body() body: UpdateAgentDto,
    @RequestActor() actor: Actor,
  ): Promise<AgentDto> {
    return this.agents.update(id, body, actor);
  }

  @Post('agents/:id/tokens')
  createToken(
    @Param('id') id: string,
    @Body() body: CreateApiTokenDto,
    @RequestActor() actor: Actor,
  ): Promise<CreatedApiTokenDto> {
    return this.agents.createToken(id, body, actor);
  }

  @Get('agents/:id/tokens')
  listTokens(@Param('id') id: string): Promise<ApiTokenDto[]> {
    return this.agents.listTokens(id);
  }

  @Delete('tokens/:id')
  @HttpCode(200)
  revokeToken(@Param('id') id: string, @RequestActor() actor: Actor): Promise<ApiTokenDto> {
    return this.agents.revokeToken(id, actor);
  }
}
