import type { DataSource } from 'typeorm';

/** Any fixed number shared by every AgentHub node: the key of the migration lock. */
const MIGRATION_LOCK_KEY = 7261626500;

/**
 * Runs pending migrations under a PostgreSQL advisory lock, so nodes started together on an empty
 * database take turns: the first migrates, the others wait and then find nothing to do.
 */
export async function runMigrationsLocked(dataSource: DataSource): Promise<void> {
  const lock = dataSource.createQueryRunner();
  await lock.connect();
  try {
    await lock.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    await dataSource.runMigrations({ transaction: 'each' });
  } finally {
    await lock.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
    await lock.release();
  }
}
