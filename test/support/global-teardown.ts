import { rmSync } from 'node:fs';
import type { EmbeddedPostgres } from '../../src/database/embedded-postgres';
import { adminQuery, templateDatabase } from './test-database';

export default async function globalTeardown(): Promise<void> {
  await adminQuery(`DROP DATABASE IF EXISTS ${templateDatabase()} WITH (FORCE)`).catch(
    () => undefined,
  );
  await (globalThis as { __AGENTHUB_PG__?: EmbeddedPostgres }).__AGENTHUB_PG__?.stop();
  const dataDir = process.env.AGENTHUB_TEST_PG_DIR;
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
}
