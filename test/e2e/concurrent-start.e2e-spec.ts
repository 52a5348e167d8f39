import { Client } from 'pg';
import { adminQuery, withDatabase, adminUrl } from '../support/test-database';
import { bootTestApp, TestApp } from '../support/test-app';

describe('several nodes starting together on an empty database', () => {
  const name = `agenthub_test_empty_${process.pid}`;
  const url = withDatabase(adminUrl(), name);
  let apps: TestApp[] = [];

  beforeAll(() => adminQuery(`CREATE DATABASE ${name}`));
  afterAll(async () => {
    await Promise.all(apps.map((app) => app.close()));
    await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  });

  it('migrates once and creates exactly one bootstrap admin', async () => {
    apps = await Promise.all([
      bootTestApp({}, { url }),
      bootTestApp({}, { url }),
      bootTestApp({}, { url }),
    ]);
    const db = new Client({ connectionString: url });
    await db.connect();
    try {
      const migrations = await db.query('SELECT name FROM typeorm_migrations ORDER BY id');
      expect(migrations.rows.map((r) => r.name)).toEqual([
        'Foundation1764460000000',
        'Messaging1764460100000',
      ]);
      const admins = await db.query("SELECT count(*)::int AS n FROM agents WHERE role = 'admin'");
      expect(admins.rows[0].n).toBe(1);
      const created = await db.query(
        "SELECT count(*)::int AS n FROM audit_events WHERE type = 'agent-created'",
      );
      expect(created.rows[0].n).toBe(1);
    } finally {
      await db.end();
    }
    for (const app of apps) expect((await fetch(`${app.url}/readyz`)).status).toBe(200);
  });
});
