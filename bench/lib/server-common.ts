/**
 * Pieces shared by the two reference servers (bench/baseline-server.ts and
 * bench/raw-socketio-server.ts): environment, JWT verification with jsonwebtoken, the socket.io
 * options AgentHub uses, and a tiny node:http router. No framework on purpose.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createSecretKey, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import type { ServerOptions } from 'socket.io';
import type { ErrorDto } from '../../src/contracts/rest';

export const JWT_ISSUER = 'agenthub';
export const JWT_AUDIENCE = 'agenthub';
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const MAX_BODY_BYTES = 16_384;

export function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) {
    console.error(`${name} is required`);
    process.exit(78);
  }
  return value;
}

/**
 * The verification key: the secret string, as `jwt.verify(token, secret)` is usually written, or
 * with JWT_KEY_OBJECT=true a KeyObject made once. With a string, jsonwebtoken first tries to parse
 * it as a PEM public key (createPublicKey throws) on every call, which costs a lot of CPU.
 */
export function verificationKey(secret: string): string | KeyObject {
  return process.env.JWT_KEY_OBJECT === 'true' ? createSecretKey(Buffer.from(secret)) : secret;
}

/** HS256 only, exp required, iss/aud checked: the same rules as AgentHub, minus the database. */
export function verifyAccessToken(token: unknown, secret: string | KeyObject): string | undefined {
  if (typeof token !== 'string' || token.length === 0 || token.length > 4096) return undefined;
  try {
    const claims = jwt.verify(token, secret, {
      algorithms: ['HS256'],
      issuer: JWT_ISSUER,
      audience: JWT_AUDIENCE,
    });
    return typeof claims === 'object' && typeof claims.sub === 'string' ? claims.sub : undefined;
  } catch {
    return undefined;
  }
}

/** Signs an access token the reference servers accept (used by the runner). */
export function signAccessToken(agentId: string, secret: string, ttlSeconds: number): string {
  return jwt.sign({ role: 'agent' }, secret, {
    algorithm: 'HS256',
    issuer: JWT_ISSUER,
    audience: JWT_AUDIENCE,
    subject: agentId,
    expiresIn: ttlSeconds,
  });
}

/** The engine options of AgentHub's adapter that matter for cost: no compression, same caps. */
export const SOCKET_OPTIONS: Partial<ServerOptions> = {
  maxHttpBufferSize: 128 * 1024,
  perMessageDeflate: false,
  httpCompression: false,
  pingInterval: 20_000,
  pingTimeout: 20_000,
  connectTimeout: 10_000,
  serveClient: false,
};

export function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  response.end(text);
}

export function sendError(
  response: ServerResponse,
  status: number,
  code: ErrorDto['code'],
  message: string,
): void {
  sendJson(response, status, { statusCode: status, code, message });
}

export function bearer(request: IncomingMessage): string | undefined {
  const header = request.headers.authorization;
  return header?.startsWith('Bearer ') ? header.slice(7) : undefined;
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Stops on SIGTERM/SIGINT after closing the given resources. */
export function onShutdown(close: () => Promise<void>): void {
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
    setTimeout(() => process.exit(1), 5000).unref();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
