import { UUID_PATTERN, uuidv7 } from '../../src/common/uuid';

const timestampOf = (id: string): number => parseInt(id.replace(/-/g, '').slice(0, 12), 16);

describe('uuidv7', () => {
  it('is an RFC 9562 version 7, variant 10 UUID', () => {
    for (let i = 0; i < 100; i += 1) {
      const id = uuidv7();
      expect(id).toMatch(UUID_PATTERN);
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    }
  });

  it('starts with the current Unix time in milliseconds', () => {
    const before = Date.now();
    const id = uuidv7();
    const after = Date.now();
    expect(timestampOf(id)).toBeGreaterThanOrEqual(before);
    expect(timestampOf(id)).toBeLessThanOrEqual(after + 1);
  });

  it('sorts in creation order, even for many ids made in the same millisecond', () => {
    const ids = Array.from({ length: 20_000 }, () => uuidv7());
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
  });

  it('keeps sorting after the previous id when the clock steps backwards', () => {
    const first = uuidv7();
    const second = uuidv7(Date.now() - 5000);
    expect(second > first).toBe(true);
  });
});
