import proxyaddr from '@fastify/proxy-addr';
import type { IncomingMessage } from 'node:http';

/**
 * The client address of a raw request, believing X-Forwarded-For only from TRUSTED_PROXIES: the
 * same rule Fastify applies to REST (trustProxy), for the socket.io handshake.
 */
export function clientIpResolver(trustedProxies: string[]): (request: IncomingMessage) => string {
  if (trustedProxies.length === 0) return (request) => request.socket.remoteAddress ?? 'unknown';
  const trust = proxyaddr.compile(trustedProxies);
  return (request) => proxyaddr(request, trust);
}
