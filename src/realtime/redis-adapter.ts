import { Logger } from '@nestjs/common';
import { createAdapter } from '@socket.io/redis-adapter';
import Redis from 'ioredis';
import type { Server } from 'socket.io';
import { createRedisClient } from '../redis/redis.module';

/**
 * Puts the socket.io Redis adapter on a server: broadcasts, room joins and disconnects reach the
 * sockets of every node. While Redis is away, publishes fail fast and are dropped (each node keeps
 * serving its own sockets; clients recover missed messages by seq), and cross-node requests such as
 * fetchSockets time out after a second instead of five.
 */
export function attachRedisAdapter(
  server: Server,
  url: string,
  keyPrefix: string,
): () => Promise<void> {
  const logger = new Logger('RedisAdapter');
  const pub = createRedisClient(url, 'io-pub');
  // Subscriptions must survive an outage: ioredis queues them and re-subscribes on reconnect.
  const sub = new Redis(url, {
    connectionName: 'agenthub-io-sub',
    maxRetriesPerRequest: null,
    retryStrategy: (n) => Math.min(n * 200, 2000),
  });
  sub.on('error', () => undefined);
  type Publish = (channel: string, message: string | Buffer) => Promise<number>;
  const publish: Publish = pub.publish.bind(pub);
  // The adapter does not handle a rejected publish; during an outage it would be an unhandled rejection.
  (pub as unknown as { publish: typeof publish }).publish = (channel, message) =>
    publish(channel, message).catch((error: unknown) => {
      logger.debug(`cross-node publish dropped: ${(error as Error).message}`);
      return 0;
    });
  server.adapter(createAdapter(pub, sub, { key: `${keyPrefix}socket.io`, requestsTimeout: 1000 }));
  return async () => {
    await Promise.all([
      pub.quit().catch(() => pub.disconnect()),
      sub.quit().catch(() => sub.disconnect()),
    ]);
  };
}
