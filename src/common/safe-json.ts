const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
const MAX_DEPTH = 32;

/**
 * Finds a prototype-pollution key (`__proto__`, `constructor`, `prototype`) anywhere in a parsed
 * payload, a NUL character in any key or string, or excessive nesting. socket.io payloads skip Fastify's JSON guard, so they need this.
 * Returns the offending path, or null when the value is clean.
 */
export function findUnsafeKey(value: unknown, path = '', depth = 0): string | null {
  // PostgreSQL text and jsonb cannot hold U+0000: refuse it up front as bad input.
  if (typeof value === 'string') return value.includes('\u0000') ? path || '(root)' : null;
  if (value === null || typeof value !== 'object') return null;
  if (depth > MAX_DEPTH) return path || '(root)';
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i += 1) {
      const found = findUnsafeKey(value[i], `${path}[${i}]`, depth + 1);
      if (found) return found;
    }
    return null;
  }
  for (const key of Object.keys(value)) {
    const child = path ? `${path}.${key}` : key;
    if (FORBIDDEN_KEYS.has(key) || key.includes('\u0000')) return child;
    const found = findUnsafeKey((value as Record<string, unknown>)[key], child, depth + 1);
    if (found) return found;
  }
  return null;
}
