import { createHash, randomBytes } from 'node:crypto';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const TOKEN_CHARS = 43; // 43 * log2(62) = 256.03 bits
export const API_TOKEN_PATTERN = /^ahp_[0-9A-Za-z]{43}$/;

/** A new opaque API token: `ahp_` + 43 uniformly random base62 characters. */
export function generateApiToken(): string {
  let out = '';
  while (out.length < TOKEN_CHARS) {
    for (const byte of randomBytes(64)) {
      // 248 = 4 * 62: rejecting larger bytes keeps every character equally likely.
      if (byte < 248 && out.length < TOKEN_CHARS) out += BASE62[byte % 62];
    }
  }
  return `ahp_${out}`;
}

export function hashApiToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** What lists show instead of the token: enough to recognise it, far too little to use it. */
export function apiTokenPrefix(token: string): string {
  return token.slice(0, 10);
}
