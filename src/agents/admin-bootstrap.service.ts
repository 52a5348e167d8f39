import { Inject, Injectable, Logger } from '@nestjs/common';
import { hashApiToken } from '../auth/api-token';
import { systemActor } from '../common/actor';
import { uuidv7 } from '../common/uuid';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { AgentsRepository } from './agents.repository';
import { AgentsService } from './agents.service';
import { ApiTokensRepository } from './api-tokens.repository';
import { EventEmitter2 } from '@nestjs/event-emitter';

export interface BootstrapResult {
  created: boolean;
  agentId: string;
  /** Only when generated here: the caller shows it once. */
  generatedToken?: string;
}

/**
 * First start: when no admin exists, create agent `admin` and its API token (ADMIN_API_TOKEN, or a
 * new one that the caller prints once). Also used by `npm run admin:bootstrap`.
 */
@Injectable()
export class AdminBootstrapService {
  private readonly logger = new Logger(AdminBootstrapService.name);

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly agents: AgentsRepository,
    private readonly tokens: ApiTokensRepository,
    private readonly service: AgentsService,
    private readonly events: EventEmitter2,
  ) {}

  /** Nodes starting together on a fresh database take turns, so exactly one creates the admin. */
  ensureAdmin(options: { force?: boolean } = {}): Promise<BootstrapResult | null> {
    return this.agents.withBootstrapLock(() => this.ensureAdminLocked(options));
  }

  private async ensureAdminLocked(options: { force?: boolean }): Promise<BootstrapResult | null> {
    if (!options.force && (await this.agents.hasAdmin())) {
      await this.ensureConfiguredToken();
      return null;
    }
    const existing = await this.agents.findByName('admin');
    const agent =
      existing ??
      (await this.service.insertAgent({
        id: uuidv7(),
        name: 'admin',
        displayName: 'Administrator',
        role: 'admin',
        disabled: false,
        metadata: {},
      }));
    if (!existing) {
      await this.events.emitAsync('agent-created', {
        actor: systemActor,
        targetType: 'agent',
        targetId: agent.id,
        data: { name: agent.name, role: agent.role, bootstrap: true },
      });
    } else if (agent.role !== 'admin' || agent.disabled) {
      await this.agents.update(agent.id, { role: 'admin', disabled: false });
    }
    const configured = this.config.adminApiToken;
    const { row, token } = await this.service.issueToken(agent.id, 'bootstrap', null, configured);
    await this.events.emitAsync('token-created', {
      actor: systemActor,
      targetType: 'api_token',
      targetId: row.id,
      data: { agentId: agent.id, name: row.name, prefix: row.prefix, bootstrap: true },
    });
    this.logger.log(`bootstrap admin ready (agent ${agent.id}, token ${row.prefix}...)`);
    return {
      created: !existing,
      agentId: agent.id,
      generatedToken: configured ? undefined : token,
    };
  }

  /** ADMIN_API_TOKEN set on a later start: make sure it works for the admin agent. */
  private async ensureConfiguredToken(): Promise<void> {
    const configured = this.config.adminApiToken;
    if (!configured) return;
    if (await this.tokens.findByHash(hashApiToken(configured))) return;
    const admin = await this.agents.findByName('admin');
    if (!admin || admin.role !== 'admin') return;
    const { row } = await this.service.issueToken(admin.id, 'ADMIN_API_TOKEN', null, configured);
    await this.events.emitAsync('token-created', {
      actor: systemActor,
      targetType: 'api_token',
      targetId: row.id,
      data: { agentId: admin.id, name: row.name, prefix: row.prefix, bootstrap: true },
    });
    this.logger.log('ADMIN_API_TOKEN registered for agent admin');
  }
}
