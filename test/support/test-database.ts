import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

/** Per-run template (migrated once in global-setup), so parallel runs on one server do not clash. */
export function templateDatabase(): string {
  const name = process.env.AGENTHUB_TEST_TEMPLATE;
  if (!name)
    throw new Error('AGENTHUB_TEST_TEMPLATE is not set: run the tests through jest (global-setup)');
  return name;
}

/** The server URL the suite administers (set by global-setup), pointing at its maintenance db. */
export function adminUrl(): string {
  const url = process.env.AGENTHUB_TEST_ADMIN_URL;
  if (!url)
    throw new Error(
      'AGENTHUB_TEST_ADMIN_URL is not set: run the tests through jest (global-setup)',
    );
  return url;
}

export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/** Refuses any database whose name does not say it is a test database. */
export function assertTestDatabase(name: string): void {
  if (!/test/.test(name))
    throw new Error(`refusing to touch database "${name}": its name lacks "test"`);
}

export async function adminQuery(sql: string): Promise<void> {
  const client = new Client({ connectionString: adminUrl() });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** A fresh database for one test file, cloned from the migrated template (fast). */
export async function createTestDatabase(): Promise<{
  url: string;
  name: string;
  drop: () => Promise<void>;
}> {
  const name = `agenthub_test_${randomBytes(6).toString('hex')}`;
  assertTestDatabase(name);
  await adminQuery(`CREATE DATABASE ${name} TEMPLATE ${templateDatabase()}`);
  return {
    name,
    url: withDatabase(adminUrl(), name),
    drop: () => adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}
