/**
 * Child processes of the benchmark: the servers under test and the load generator. Each is
 * pinned to its core with taskset when it exists (servers on core 1, load generator on core 0)
 * and gets a raised file-descriptor limit (prlimit) for the 10,000-connection test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { pin, raiseFdLimit } from './proc';
import type { Command, Reply, Request, ResultOf } from './protocol';

export const SERVER_CORE = 1;
export const GENERATOR_CORE = 0;
const FD_LIMIT = 65_536;

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

export interface ServerSpec {
  label: string;
  /** Node arguments (script path first). */
  args: string[];
  env: Record<string, string | undefined>;
  port: number;
  /** Path polled until it answers 200. */
  readyPath: string;
  logFile: string;
  cwd: string;
  /** The core it is pinned to (default SERVER_CORE). */
  core?: number;
  /** A command that runs node (e.g. valgrind and its options): node and args follow it. */
  wrapper?: string[];
}

/** A server process under test, listening on 127.0.0.1; restartable on the same port. */
export class ManagedServer {
  private child: ChildProcess | undefined;
  private exited = true;
  private readonly log: WriteStream;
  pinned = false;

  private constructor(readonly spec: ServerSpec) {
    this.log = createWriteStream(spec.logFile, { flags: 'a' });
  }

  get pid(): number {
    return this.child?.pid ?? -1;
  }

  get url(): string {
    return `http://127.0.0.1:${this.spec.port}`;
  }

  get running(): boolean {
    return !this.exited;
  }

  static async start(spec: ServerSpec): Promise<ManagedServer> {
    const server = new ManagedServer(spec);
    await server.launch();
    return server;
  }

  /** A fresh process (same port, same environment): for measurements that need a clean heap. */
  async restart(): Promise<void> {
    await this.terminate();
    await this.launch();
  }

  /** SIGTERM, then SIGKILL after 15 s; closes the log. */
  async stop(): Promise<void> {
    await this.terminate();
    this.log.end();
  }

  private async launch(): Promise<void> {
    const { wrapper } = this.spec;
    // Under valgrind start-up is several times slower.
    const timeoutMs = wrapper ? 600_000 : 90_000;
    const [command, ...args] = [...(wrapper ?? []), process.execPath, ...this.spec.args];
    const child = spawn(command, args, {
      cwd: this.spec.cwd,
      env: this.spec.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.exited = false;
    child.stdout?.pipe(this.log, { end: false });
    child.stderr?.pipe(this.log, { end: false });
    child.once('exit', () => {
      this.exited = true;
    });
    // A command that cannot be started (no valgrind): reported by the ready loop below.
    child.once('error', (error) => {
      this.exited = true;
      this.log.write(`${this.spec.label}: ${error.message}\n`);
    });
    if (child.pid) {
      this.pinned = pin(child.pid, this.spec.core ?? SERVER_CORE);
      raiseFdLimit(child.pid, FD_LIMIT);
    }
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.exited)
        throw new Error(`${this.spec.label} exited during start-up; see ${this.spec.logFile}`);
      try {
        const response = await fetch(this.url + this.spec.readyPath);
        if (response.ok) return;
      } catch {
        /* not listening yet */
      }
      await sleep(100);
    }
    await this.terminate();
    throw new Error(
      `${this.spec.label} did not become ready in ${timeoutMs} ms; see ${this.spec.logFile}`,
    );
  }

  private async terminate(): Promise<void> {
    const child = this.child;
    if (!child || this.exited) return;
    await new Promise<void>((done) => {
      const force = setTimeout(() => child.kill('SIGKILL'), 15_000);
      child.once('exit', () => {
        clearTimeout(force);
        done();
      });
      child.kill('SIGTERM');
    });
  }
}

/** The load-generator process and a typed request/response channel over IPC. */
export class GeneratorProcess {
  private nextId = 1;
  private readonly pending = new Map<
    number,
    { resolve: (value: unknown) => void; reject: (error: Error) => void }
  >();
  pinned = false;

  private constructor(private readonly child: ChildProcess) {
    child.on('message', (reply: Reply) => {
      const waiter = this.pending.get(reply.id);
      if (!waiter) return;
      this.pending.delete(reply.id);
      if (reply.ok) waiter.resolve(reply.result);
      else waiter.reject(new Error(`load generator: ${reply.error}`));
    });
    child.once('exit', (code) => {
      for (const waiter of this.pending.values())
        waiter.reject(new Error(`load generator exited (code ${code})`));
      this.pending.clear();
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  static start(script: string, cwd: string): GeneratorProcess {
    const child = spawn(process.execPath, [script], {
      cwd,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const generator = new GeneratorProcess(child);
    if (child.pid) {
      generator.pinned = pin(child.pid, GENERATOR_CORE);
      raiseFdLimit(child.pid, FD_LIMIT);
    }
    return generator;
  }

  call<C extends Command>(command: C, timeoutMs: number): Promise<ResultOf[C['type']]> {
    const id = this.nextId++;
    return new Promise<ResultOf[C['type']]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`load generator: ${command.type} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value as ResultOf[C['type']]);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      const request: Request = { id, command };
      this.child.send(request);
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((done) => this.child.once('exit', () => done()));
    try {
      await this.call({ type: 'exit' }, 5000);
    } catch {
      this.child.kill('SIGKILL');
    }
    await Promise.race([exited, sleep(5000)]);
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}
