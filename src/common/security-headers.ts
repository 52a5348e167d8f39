import type { AppConfig } from '../config/app-config';

/** The Content-Security-Policy for an API (and the dashboard's own assets), as helmet takes it. */
export const CSP_DIRECTIVES: Readonly<Record<string, readonly string[]>> = {
  defaultSrc: ["'self'"],
  frameAncestors: ["'none'"],
  objectSrc: ["'none'"],
  baseUri: ["'none'"],
};

/** The same policy as helmet writes it: `default-src 'self';frame-ancestors 'none';…`. */
const CSP = Object.entries(CSP_DIRECTIVES)
  .map(
    ([name, values]) =>
      `${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} ${values.join(' ')}`,
  )
  .join(';');

/**
 * The runbook's header set, for the answers that bypass helmet's hook: Fastify's framework
 * errors and everything engine.io writes itself (the socket.io handshake, its polling answers and
 * its refusals, such as the 403 for an Origin outside ALLOWED_ORIGINS).
 */
export function securityHeaders(config: AppConfig): Record<string, string> {
  return {
    'Content-Security-Policy': CSP,
    'X-Frame-Options': 'DENY',
    'Referrer-Policy': 'strict-origin',
    'X-Content-Type-Options': 'nosniff',
    ...(config.enableHsts
      ? { 'Strict-Transport-Security': 'max-age=31536000; includeSubDomains' }
      : {}),
  };
}
