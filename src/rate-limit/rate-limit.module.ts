import { Global, Module } from '@nestjs/common';
import type Redis from 'ioredis';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { REDIS_CLIENT } from '../redis/redis.module';
import { MemoryRateLimitStore, RATE_LIMIT_STORE } from './rate-limit.store';
import { RateLimitService } from './rate-limit.service';
import { FallbackRateLimitStore, RedisRateLimitStore } from './redis-rate-limit.store';

@Global()
@Module({
  providers: [
    {
      provide: RATE_LIMIT_STORE,
      inject: [REDIS_CLIENT, APP_CONFIG],
      useFactory: (redis: Redis | null, config: AppConfig) =>
        redis
          ? new FallbackRateLimitStore(
              new RedisRateLimitStore(redis, `${config.redisKeyPrefix}rl:`),
              new MemoryRateLimitStore(),
            )
          : new MemoryRateLimitStore(),
    },
    RateLimitService,
  ],
  exports: [RateLimitService],
})
export class RateLimitModule {}
