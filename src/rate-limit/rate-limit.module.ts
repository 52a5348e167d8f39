import { Global, Module } from '@nestjs/common';
import type Redis from 'ioredis';
import { REDIS_CLIENT } from '../redis/redis.module';
import { MemoryRateLimitStore, RATE_LIMIT_STORE } from './rate-limit.store';
import { RateLimitService } from './rate-limit.service';
import { FallbackRateLimitStore, RedisRateLimitStore } from './redis-rate-limit.store';

@Global()
@Module({
  providers: [
    {
      provide: RATE_LIMIT_STORE,
      inject: [REDIS_CLIENT],
      useFactory: (redis: Redis | null) =>
        redis
          ? new FallbackRateLimitStore(new RedisRateLimitStore(redis), new MemoryRateLimitStore())
          : new MemoryRateLimitStore(),
    },
    RateLimitService,
  ],
  exports: [RateLimitService],
})
export class RateLimitModule {}
