import { ChildProcess, spawn } from 'node:child_process';
import { connect } from 'node:net';
import { freePort } from '../../src/common/free-port';

export const REDIS_SERVER_BINARY = process.env.REDIS_SERVER_BIN ?? '/usr/bin/redis-server';

/**
 * A dedicated, throw-away redis-server on a fixed loopback port (no persistence), which a fault
 * test may stop and start again at the same address. The shared Redis of REDIS_URL is never
 * touched.
 */
export class DedicatedRedis {
  private child: ChildProcess | undefined;

  private constructor(readonly port: number) {}

  static async start(): Promise<DedicatedRedis> {
    const redis = new DedicatedRedis(await freePort());
    await redis.start();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const child = spawn(
      REDIS_SERVER_BINARY,
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--protected-mode',
        'yes',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.child = child;
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const deadline = Date.now() + 10_000;
    while (!(await this.answersPing())) {
      if (child.exitCode !== null) throw new Error(`redis-server exited:\n${output}`);
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`redis-server not answering within 10 s:\n${output}`);
      }
      await new Promise((done) => setTimeout(done, 50));
    }
  }

  /** Kills the server (SIGKILL: an outage, not a maintenance stop) and waits until it is gone. */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGCONT');
    await new Promise<void>((done) => {
      child.once('exit', () => done());
      child.kill('SIGKILL');
    });
  }

  /** SIGSTOP: the port still accepts connections but nothing answers (a partition, a stuck host). */
  freeze(): void {
    this.child?.kill('SIGSTOP');
  }

  thaw(): void {
    this.child?.kill('SIGCONT');
  }

  private answersPing(): Promise<boolean> {
    return new Promise((done) => {
      const socket = connect({ host: '127.0.0.1', port: this.port });
      const finish = (ok: boolean): void => {
        socket.destroy();
        done(ok);
      };
      socket.setTimeout(500, () => finish(false));
      socket.once('error', () => finish(false));
      socket.once('connect', () => socket.write('PING\r\n'));
      socket.once('data', (chunk: Buffer) => finish(chunk.toString().startsWith('+PONG')));
    });
  }
}
