import { Client, DatabaseError } from 'pg';
import { bindExecuteSync, callPrepared } from '../../src/database/prepared-call';
import { createTestDatabase } from '../support/test-database';

/** The message writer's lean prepared-statement call, on a real PostgreSQL. */
describe('callPrepared', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let client: Client;
  let observer: Client;

  beforeAll(async () => {
    database = await createTestDatabase();
    observer = new Client({ connectionString: database.url });
    await observer.connect();
  });
  afterAll(async () => {
    await observer.end();
    await database.drop();
  });
  beforeEach(async () => {
    client = new Client({ connectionString: database.url, query_timeout: 1000 });
    client.on('error', () => undefined); // the termination test ends the session under it
    await client.connect();
  });
  afterEach(async () => {
    await client.end().catch(() => undefined);
  });

  const echo = {
    name: 'test_echo',
    text: `SELECT $1::text AS t, $2::jsonb AS j, $3::boolean AS b, n FROM generate_series(1, $4::int) n`,
  };

  /** The server's prepared statements of `client`'s session, by name. */
  async function preparedNames(): Promise<string[]> {
    const { rows } = await client.query<{ name: string }>(
      'SELECT name FROM pg_prepared_statements ORDER BY name',
    );
    return rows.map((row) => row.name);
  }

  it('answers every row as text, parameters in and columns out, NULLs as null', async () => {
    const body = 'héllo, wörld ✓ 🤖 "quoted" \\ back';
    const rows = await callPrepared(client, echo, [body, '{"k": [1, "ü"]}', 'true', '3']);
    expect(rows).toEqual([
      [body, '{"k": [1, "ü"]}', 't', '1'],
      [body, '{"k": [1, "ü"]}', 't', '2'],
      [body, '{"k": [1, "ü"]}', 't', '3'],
    ]);
    expect(await callPrepared(client, echo, [null, null, 'false', '1'])).toEqual([
      [null, null, 'f', '1'],
    ]);
    expect(await callPrepared(client, echo, ['', 'null', 'false', '0'])).toEqual([]);
  });

  it('parses the statement on the first call only, then binds it by name', async () => {
    expect(await preparedNames()).toEqual([]);
    await callPrepared(client, echo, ['a', null, 'true', '1']);
    expect(await preparedNames()).toEqual(['test_echo']);
    await callPrepared(client, echo, ['b', null, 'true', '1']);
    expect(await preparedNames()).toEqual(['test_echo']);
    // pg's own queries by the same name see it as parsed (no "must be unique" conflict).
    const viaPg = await client.query({ ...echo, values: ['c', null, true, 1] });
    expect(viaPg.rows).toEqual([{ t: 'c', j: null, b: true, n: 1 }]);
  });

  it('refuses a name already parsed for another text, as pg does', async () => {
    await callPrepared(client, echo, ['a', null, 'true', '1']);
    await expect(callPrepared(client, { name: echo.name, text: 'SELECT 1' }, [])).rejects.toThrow(
      /Prepared statements must be unique/,
    );
    expect(await callPrepared(client, echo, ['b', null, 'true', '1'])).toEqual([
      ['b', null, 't', '1'],
    ]);
  });

  it('rejects with pg DatabaseError and its code; the connection stays usable', async () => {
    const error = await callPrepared(client, echo, ['x', '{not json', 'true', '1']).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DatabaseError);
    expect((error as DatabaseError).code).toBe('22P02');
    expect(await callPrepared(client, echo, ['ok', null, 'true', '1'])).toEqual([
      ['ok', null, 't', '1'],
    ]);
  });

  it('maps rows as they arrive; a mapper that throws fails the call, not the connection', async () => {
    const mapped = await callPrepared(client, echo, ['m', null, 'true', '2'], ([t, , , n]) => ({
      t,
      n: Number(n),
    }));
    expect(mapped).toEqual([
      { t: 'm', n: 1 },
      { t: 'm', n: 2 },
    ]);
    const refused = callPrepared(client, echo, ['m', null, 'true', '3'], () => {
      throw new Error('not this row');
    });
    await expect(refused).rejects.toThrow('not this row');
    expect(await callPrepared(client, echo, ['after', null, 'true', '1'])).toEqual([
      ['after', null, 't', '1'],
    ]);
  });

  it('a statement that fails to parse is parsed again by the next call', async () => {
    await observer.query('DROP TABLE IF EXISTS later');
    const insert = {
      name: 'test_later',
      text: 'INSERT INTO later (v) VALUES ($1::int) RETURNING v',
    };
    const error = await callPrepared(client, insert, ['1']).catch((e: unknown) => e);
    expect((error as DatabaseError).code).toBe('42P01');
    await observer.query('CREATE TABLE later (v int)');
    expect(await callPrepared(client, insert, ['7'])).toEqual([['7']]);
    const { rows } = await observer.query<{ v: number }>('SELECT v FROM later');
    expect(rows).toEqual([{ v: 7 }]);
  });

  it("applies the client's query timeout", async () => {
    const slow = { name: 'test_slow', text: 'SELECT pg_sleep($1::float8)::text' };
    const error = await callPrepared(client, slow, ['3']).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/Query read timeout/);
  });

  it('rejects when the server ends the connection, and on a closed one', async () => {
    const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    // Caught at once: the rejection may come before the observer's answer.
    const pending = callPrepared(
      client,
      { name: 'test_sleep', text: 'SELECT pg_sleep(5)' },
      [],
    ).catch((e: unknown) => e);
    await observer.query('SELECT pg_terminate_backend($1)', [rows[0].pid]);
    const error = await pending;
    expect(error).toBeInstanceOf(Error);
    expect(['57P01', undefined]).toContain((error as DatabaseError).code);
    await expect(callPrepared(client, echo, ['x', null, 'true', '1'])).rejects.toThrow();
  });
});

describe('bindExecuteSync', () => {
  it('writes Bind, Execute and Sync as the protocol lays them out', () => {
    const buffer = bindExecuteSync('s1', ['ab', null, 'é']);
    const bindLength = 4 + 1 + 3 + 2 + 2 + (4 + 2) + 4 + (4 + 2) + 2;
    expect(buffer.length).toBe(1 + bindLength + 10 + 5);
    expect(String.fromCharCode(buffer[0])).toBe('B');
    expect(buffer.readInt32BE(1)).toBe(bindLength);
    expect(buffer.subarray(5, 9)).toEqual(Buffer.from('\0s1\0'));
    expect(buffer.readInt16BE(9)).toBe(0); // no parameter formats: all text
    expect(buffer.readInt16BE(11)).toBe(3);
    expect(buffer.readInt32BE(13)).toBe(2);
    expect(buffer.subarray(17, 19).toString()).toBe('ab');
    expect(buffer.readInt32BE(19)).toBe(-1);
    expect(buffer.readInt32BE(23)).toBe(2);
    expect(buffer.subarray(27, 29).toString()).toBe('é');
    expect(buffer.readInt16BE(29)).toBe(0); // no result formats: all text
    expect(buffer.subarray(31)).toEqual(
      Buffer.from([0x45, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0x53, 0, 0, 0, 4]),
    );
  });
});
