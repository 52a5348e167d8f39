import { types } from 'pg';
import { outcomeOf, textArray } from '../../src/messages/append-statement';

describe('append statement helpers', () => {
  it('writes array literals with every element quoted, " and \\ escaped, and null as NULL', () => {
    const values = ['plain', 'say "hi"', 'back\\slash', '{a,b}', 'NULL', '', null];
    expect(textArray(values, (v) => v)).toBe(
      '{"plain","say \\"hi\\"","back\\\\slash","{a,b}","NULL","",NULL}',
    );
    expect(textArray([], (v) => v)).toBe('{}');
  });

  it('parses jsonb and timestamptz with the parsers registered when the row arrives', () => {
    const row = [null, null, '7', '{"k":1}', '2026-12-01 17:36:42.918+00', null];
    expect(outcomeOf(row)).toEqual([
      null,
      null,
      '7',
      { k: 1 },
      new Date('2026-12-01T17:36:42.918Z'),
      null,
    ]);
    const jsonb = types.getTypeParser(types.builtins.JSONB, 'text');
    const timestamptz = types.getTypeParser(types.builtins.TIMESTAMPTZ, 'text');
    types.setTypeParser(types.builtins.JSONB, (text) => ({ raw: text }));
    types.setTypeParser(types.builtins.TIMESTAMPTZ, (text) => `at ${text}`);
    try {
      const [, , , data, createdAt] = outcomeOf(row);
      expect(data).toEqual({ raw: '{"k":1}' });
      expect(createdAt).toBe('at 2026-12-01 17:36:42.918+00');
    } finally {
      types.setTypeParser(types.builtins.JSONB, jsonb);
      types.setTypeParser(types.builtins.TIMESTAMPTZ, timestamptz);
    }
  });
});
