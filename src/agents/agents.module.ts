import { Module } from '@nestjs/common';
import { AdminBootstrapService } from './admin-bootstrap.service';
import { AgentsController } from './agents.controller';
import { AgentsRepository } from './agents.repository';
import { AgentsService } from './agents.service';
import { ApiTokensRepository } from './api-tokens.repository';
import { MeController } from './me.controller';

@Module({
  controllers: [AgentsController, MeController],
  providers: [AgentsRepository, ApiTokensRepository, AgentsService, AdminBootstrapService],
  exports: [AgentsRepository, ApiTokensRepository, AgentsService, AdminBootstrapService],
})
export class AgentsModule {}
