import { createHash, createSecretKey, KeyObject } from 'node:crypto';

export interface JwtKey {
  kid: string;
  secret: string;
  /**
   * The same secret as a KeyObject: jsonwebtoken given a string first tries to parse it as a PEM
   * key (and fails) on every call, which dominated the cost of verifying a JWT.
   */
  key: KeyObject;
}

function jwtKey(secret: string): JwtKey {
  return { kid: keyId(secret), secret, key: createSecretKey(Buffer.from(secret, 'utf8')) };
}

/**
 * The signing key and the keys still accepted during a rotation. The `kid` is derived from the
 * secret, so rotating is configuration only: set JWT_SECRET to the new secret and JWT_SECRET_OLD
 * to the previous one, then drop JWT_SECRET_OLD once old tokens have expired.
 */
export class JwtKeyRing {
  readonly signing: JwtKey;
  private readonly byKid = new Map<string, JwtKey>();

  constructor(secret: string, oldSecret?: string) {
    this.signing = jwtKey(secret);
    this.byKid.set(this.signing.kid, this.signing);
    if (oldSecret && oldSecret !== secret) {
      const old = jwtKey(oldSecret);
      this.byKid.set(old.kid, old);
    }
  }

  /** The key for a token's `kid`, or undefined: the kid is only ever a lookup key. */
  find(kid: unknown): JwtKey | undefined {
    return typeof kid === 'string' ? this.byKid.get(kid) : undefined;
  }
}

export function keyId(secret: string): string {
  return createHash('sha256').update(`agenthub-jwt-kid:${secret}`).digest('base64url').slice(0, 16);
}
