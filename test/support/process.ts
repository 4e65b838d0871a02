/**
 * Child processes for tests: real servers and our own workers, started in temp dirs,
 * logged to files, and stopped by pid (also when a test fails or the runner exits).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const live = new Set<ManagedProcess>();
const tempDirs = new Set<string>();
process.on('exit', () => {
  for (const p of live) p.killNow();
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});
// The test runner stops a file that outlives its timeout with a signal, which would end this
// process without 'exit' handlers and leave its servers running: exit instead, so they run. A
// program with a handler of its own for the signal (the demo cleans up and exits 0) keeps it.
for (const [signal, code] of [
  ['SIGTERM', 143],
  ['SIGINT', 130],
  ['SIGHUP', 129],
] as const) {
  process.once(signal, () => {
    if (process.listenerCount(signal) === 0) process.exit(code);
  });
}

/** A fresh temp dir removed when the test process exits. */
export function tempDir(prefix = 'dyn-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

/** Ports this process has handed out: never handed out twice (two servers of one test once got the same one). */
const givenPorts = new Set<number>();

/** A TCP port that was free on 127.0.0.1 a moment ago, and not handed out before by this process. */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await anyFreePort();
    if (givenPorts.has(port)) continue;
    givenPorts.add(port);
    return port;
  }
}

function anyFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') return reject(new Error('no port'));
      srv.close(() => resolve(addr.port));
    });
  });
}

export async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

/** Polls `check` until it returns a truthy value or `timeoutMs` passes. */
export async function waitUntil<T>(
  what: string,
  check: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  timeoutMs = 15_000,
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const why = lastError instanceof Error ? `: ${lastError.message}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
    }
    await sleep(intervalMs);
  }
}

export async function tcpAccepts(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ port, host });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export interface SpawnOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** File that receives stdout and stderr. */
  logFile?: string;
}

/** A child process owned by a test, stopped by pid. */
export class ManagedProcess {
  readonly child: ChildProcess;
  readonly logFile: string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;

  constructor(
    readonly command: string,
    readonly args: string[],
    opts: SpawnOptions = {},
  ) {
    this.logFile = opts.logFile ?? join(tempDir('dyn-log-'), 'out.log');
    const out = createWriteStream(this.logFile, { flags: 'a' });
    this.child = spawn(command, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout?.pipe(out, { end: false });
    this.child.stderr?.pipe(out, { end: false });
    live.add(this);
    // 'exit' can come before the child's stdout and stderr are drained; 'close' comes after them.
    // The process counts as exited only once everything it printed is in the log file.
    this.exited = new Promise((resolve) => {
      const done = (info: { code: number | null; signal: NodeJS.Signals | null }): void => {
        out.end(() => {
          this.exitInfo = info;
          live.delete(this);
          resolve(info);
        });
      };
      this.child.once('close', (code, signal) => done({ code, signal }));
      this.child.once('error', () => done({ code: -1, signal: null }));
    });
  }

  get pid(): number {
    if (this.child.pid === undefined) throw new Error(`${this.command} did not start`);
    return this.child.pid;
  }

  get running(): boolean {
    return this.exitInfo === undefined;
  }

  /** Everything the process printed so far. */
  output(): string {
    try {
      return readFileSync(this.logFile, 'utf8');
    } catch {
      return '';
    }
  }

  signal(sig: NodeJS.Signals): void {
    if (this.running) process.kill(this.pid, sig);
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  async stop(graceMs = 5_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (!this.running) return this.exited;
    this.signal('SIGTERM');
    const timer = setTimeout(() => this.killNow(), graceMs);
    const info = await this.exited;
    clearTimeout(timer);
    return info;
  }

  async kill(): Promise<void> {
    this.killNow();
    await this.exited;
  }

  killNow(): void {
    try {
      if (this.running && this.child.pid !== undefined) process.kill(this.child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/**
 * Cleanups that run in reverse order of registration (last started, first stopped), as one
 * `after` hook of the test.
 */
export function cleanups(t: { after(fn: () => Promise<void> | void): void }): (fn: () => unknown) => void {
  const stack: (() => unknown)[] = [];
  t.after(async () => {
    for (const fn of stack.reverse()) {
      try {
        await fn();
      } catch {
        // keep cleaning up
      }
    }
  });
  return (fn) => {
    stack.push(fn);
  };
}
