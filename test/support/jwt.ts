import { createHmac } from 'node:crypto';
import { keyId } from '../../src/auth/jwt-keys';

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** Hand-made JWTs for tampering tests: any header, any claims, HS256/HS512 or no signature. */
export function craftJwt(
  claims: Record<string, unknown>,
  options: { secret?: string; alg?: 'HS256' | 'HS512' | 'none'; kid?: string | null } = {},
): string {
  const alg = options.alg ?? 'HS256';
  const secret = options.secret ?? '';
  const header: Record<string, unknown> = { alg, typ: 'JWT' };
  const kid = options.kid === undefined ? keyId(secret) : options.kid;
  if (kid !== null) header.kid = kid;
  const unsigned = `${b64(header)}.${b64(claims)}`;
  if (alg === 'none') return `${unsigned}.`;
  const hmac = createHmac(alg === 'HS256' ? 'sha256' : 'sha512', secret)
    .update(unsigned)
    .digest('base64url');
  return `${unsigned}.${hmac}`;
}

export function decodeJwt(token: string): { header: any; payload: any } {
  const [header, payload] = token.split('.');
  return {
    header: JSON.parse(Buffer.from(header, 'base64url').toString()),
    payload: JSON.parse(Buffer.from(payload, 'base64url').toString()),
  };
}
