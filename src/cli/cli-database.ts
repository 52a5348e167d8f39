import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { isDatabaseUnavailable } from '../common/errors';
import { dataSourceOptions } from '../database/data-source-options';

/** What a command prints and the exit status it ends with; commands return it so tests can too. */
export interface CliResult {
  code: number;
  output: string;
}

/** Exit status when the command could not talk to the database (or it lacks the schema). */
export const EXIT_NO_DATABASE = 2;

/**
 * Opens the app's own DataSource definition (no migrations: a command must not change the schema)
 * and always closes it, so a command never leaves a pool behind.
 */
export async function withDataSource(
  url: string,
  work: (dataSource: DataSource) => Promise<CliResult>,
): Promise<CliResult> {
  const dataSource = new DataSource({
    ...dataSourceOptions(url, { poolSize: 2 }),
    // Errors are reported by the command itself, once, without TypeORM echoing the SQL.
    logging: false,
  });
  try {
    await dataSource.initialize();
  } catch (error) {
    return { code: EXIT_NO_DATABASE, output: `cannot connect to the database: ${reasonOf(error)}` };
  }
  try {
    return await work(dataSource);
  } catch (error) {
    const what = isDatabaseUnavailable(error) ? 'lost the database connection' : 'failed';
    return { code: EXIT_NO_DATABASE, output: `${what}: ${reasonOf(error)}` };
  } finally {
    await dataSource.destroy().catch(() => undefined);
  }
}

/** DATABASE_URL is required: a command never starts an embedded PostgreSQL of its own. */
export function requireDatabaseUrl(env: Record<string, string | undefined>): string | CliResult {
  const url = env.DATABASE_URL?.trim();
  if (url) return url;
  return {
    code: EXIT_NO_DATABASE,
    output:
      'DATABASE_URL is not set: point it at the AgentHub database, e.g. ' +
      'DATABASE_URL=postgres://user:pass@host:5432/agenthub',
  };
}

/** Writes the result (failures to run at all go to stderr), then exits with its code. */
export function finish(result: CliResult): void {
  const stream = result.code >= EXIT_NO_DATABASE ? process.stderr : process.stdout;
  stream.write(result.output + '\n', () => process.exit(result.code));
}

function reasonOf(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const aggregate = (error as { errors?: unknown[] } | null)?.errors;
  if (message === '' && Array.isArray(aggregate) && aggregate[0] instanceof Error) {
    return aggregate[0].message;
  }
  return message;
}
