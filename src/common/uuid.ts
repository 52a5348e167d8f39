import { randomFillSync } from 'node:crypto';

let lastMs = 0;
let sequence = 0;

/** Random bytes drawn 4 KiB at a time: one system call per 256 ids, not one (or two) per id. */
const POOL = Buffer.alloc(4096);
let poolOffset = POOL.length;

function randomBlock(): Buffer {
  if (poolOffset + 16 > POOL.length) {
    randomFillSync(POOL);
    poolOffset = 0;
  }
  const block = Buffer.from(POOL.subarray(poolOffset, poolOffset + 16));
  poolOffset += 16;
  return block;
}

/**
 * RFC 9562 UUIDv7: 48-bit Unix milliseconds, then 74 random bits, with a 12-bit counter in
 * rand_a so ids made in the same millisecond by this process still sort in creation order.
 */
export function uuidv7(now = Date.now()): string {
  if (now <= lastMs) {
    sequence = (sequence + 1) & 0xfff;
    if (sequence === 0) lastMs += 1;
    now = lastMs;
  }
  const bytes = randomBlock();
  if (now > lastMs) {
    lastMs = now;
    sequence = bytes.readUInt16BE(14) & 0x7ff;
  }
  bytes.writeUIntBE(now, 0, 6);
  bytes[6] = 0x70 | (sequence >> 8);
  bytes[7] = sequence & 0xff;
  bytes[8] = 0x80 | (bytes[8] & 0x3f);
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Ids are lowercase, as PostgreSQL prints them; anything else names nothing (404). */
export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The millisecond timestamp inside a UUIDv7 (jti values are UUIDv7, minted when signed). */
export function uuidv7Time(id: string): number {
  return parseInt(id.replace(/-/g, '').slice(0, 12), 16);
}
