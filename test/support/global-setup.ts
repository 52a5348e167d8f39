import 'reflect-metadata';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../../src/database/data-source-options';
import { EmbeddedPostgres } from '../../src/database/embedded-postgres';
import { adminQuery, assertTestDatabase, withDatabase } from './test-database';

/**
 * Uses DATABASE_URL's server when set (CI: the local PostgreSQL); otherwise starts a real
 * PostgreSQL from embedded-postgres. Builds a migrated template database that every test file
 * clones into its own fresh database.
 */
export default async function globalSetup(): Promise<void> {
  const started = Date.now();
  let admin = process.env.DATABASE_URL;
  if (!admin) {
    // A cluster per run (initdb takes about a second), so concurrent runs never share one.
    const dataDir = mkdtempSync(join(tmpdir(), 'agenthub-test-pg-'));
    process.env.AGENTHUB_TEST_PG_DIR = dataDir;
    const embedded = new EmbeddedPostgres({ dataDir });
    await embedded.start();
    (globalThis as { __AGENTHUB_PG__?: EmbeddedPostgres }).__AGENTHUB_PG__ = embedded;
    admin = embedded.url('postgres');
  }
  process.env.AGENTHUB_TEST_ADMIN_URL = admin;
  const TEMPLATE_DATABASE = `agenthub_test_template_${process.pid}`;
  process.env.AGENTHUB_TEST_TEMPLATE = TEMPLATE_DATABASE;
  assertTestDatabase(TEMPLATE_DATABASE);
  await adminQuery(`DROP DATABASE IF EXISTS ${TEMPLATE_DATABASE} WITH (FORCE)`);
  await adminQuery(`CREATE DATABASE ${TEMPLATE_DATABASE}`);
  const dataSource = new DataSource(
    dataSourceOptions(withDatabase(admin, TEMPLATE_DATABASE), { poolSize: 1 }),
  );
  await dataSource.initialize();
  await dataSource.runMigrations();
  await dataSource.destroy();
  process.stdout.write(
    `\n[global-setup] PostgreSQL ${process.env.DATABASE_URL ? 'from DATABASE_URL' : 'embedded'}, template ready in ${Date.now() - started} ms\n`,
  );
}
