import type { Pool, QueryConfig, QueryResultRow } from 'pg';
import type { DataSource } from 'typeorm';

/**
 * The pg pool under TypeORM's DataSource, for the hot paths (every message, every authenticated
 * request): named statements are prepared once per connection and skip the ORM's query runner.
 */
export function pgPool(dataSource: DataSource): Pool {
  return (dataSource.driver as unknown as { master: Pool }).master;
}

export async function queryRows<Row extends QueryResultRow>(
  pool: Pool,
  statement: QueryConfig,
  values: unknown[],
): Promise<Row[]> {
  return (await pool.query<Row>({ ...statement, values })).rows;
}
