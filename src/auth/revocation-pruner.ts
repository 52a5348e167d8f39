import { Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { SessionsRepository } from './sessions.repository';

const PRUNE_EVERY_MS = 15 * 60_000;

/** Deletes revocations of JWTs that have expired anyway, so jwt_revocations stays small. */
@Injectable()
export class RevocationPruner implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(RevocationPruner.name);
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly sessions: SessionsRepository) {}

  onModuleInit(): void {
    this.timer = setInterval(() => {
      this.sessions
        .pruneExpired()
        .then(
          (removed) => removed > 0 && this.logger.log(`pruned ${removed} expired JWT revocations`),
        )
        .catch((error: unknown) =>
          this.logger.warn({ err: error }, 'pruning JWT revocations failed'),
        );
    }, PRUNE_EVERY_MS);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }
}
