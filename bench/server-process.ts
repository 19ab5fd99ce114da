/**
 * A server under test, run as a child process so that it and the load generator each have a core.
 * Used for the product (`node bin/www`) and for the baselines (`bench/baselines.ts`) alike:
 * pick a free port, spawn, wait for `GET /readyz` to answer 200, read its CPU time and memory,
 * stop it (SIGTERM, then SIGKILL after a grace period).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildRequest, HOST, requestOnce } from './http-load.js';

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Preloaded (with `--import`) only when a scenario needs heap figures: answers an IPC request with
 * `process.memoryUsage()` after two full GCs. The channel is unref'd so it never keeps the
 * process alive. It changes nothing else in the process.
 */
const MEMORY_PROBE = `
if (process.send) {
  process.on('message', (m) => {
    if (!m || m.type !== 'bench:memory') return;
    globalThis.gc?.(); globalThis.gc?.();
    const u = process.memoryUsage();
    process.send({ type: 'bench:memory', rss: u.rss, heapUsed: u.heapUsed, heapTotal: u.heapTotal, external: u.external, arrayBuffers: u.arrayBuffers });
  });
  process.channel?.unref();
}`;
const MEMORY_PROBE_URL = `data:text/javascript,${encodeURIComponent(MEMORY_PROBE)}`;

export interface MemoryUsage {
  readonly rss: number;
  readonly heapUsed: number;
  readonly heapTotal: number;
  readonly external: number;
  readonly arrayBuffers: number;
}

export interface SpawnOptions {
  /** Shown in errors and log file names. */
  readonly label: string;
  /** Arguments after `node` (flags and script). */
  readonly args: readonly string[];
  readonly env: Record<string, string>;
  readonly cwd: string;
  readonly port: number;
  /** Preload the memory probe (and `--expose-gc`) so `memory()` works. */
  readonly memoryProbe?: boolean;
  readonly readyTimeoutMs?: number;
}

/** Every server started and not yet exited, so the runner can stop them whatever happened. */
const live = new Set<ServerProcess>();

/** Logs worth reading: a server wrote something (at LOG_LEVEL=warn) or did not exit cleanly. */
export const keptLogs: { label: string; file: string; exitCode: number | null | undefined }[] = [];

/** Stops every server still running (after a scenario timed out or threw). */
export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((server) => server.stop(2_000)));
}

export class ServerProcess {
  private exited: Promise<number | null>;
  private exitCode: number | null | undefined;

  private constructor(
    readonly label: string,
    readonly port: number,
    readonly child: ChildProcess,
    readonly logFile: string,
  ) {
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitCode = code ?? (signal ? -1 : null);
        live.delete(this);
        resolve(this.exitCode);
      });
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get wsUrl(): string {
    return `ws://${HOST}:${this.port}`;
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  static async start(options: SpawnOptions): Promise<ServerProcess> {
    const logFile = path.join(os.tmpdir(), `chatty-bench-${options.label}-${process.pid}-${options.port}.log`);
    const log = fs.openSync(logFile, 'w');
    const flags = options.memoryProbe ? ['--expose-gc', '--import', MEMORY_PROBE_URL] : [];
    // BENCH_PROFILE=<dir>: a CPU profile of every server, written when it exits
    if (process.env.BENCH_PROFILE) flags.push('--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`, `--cpu-prof-name=${options.label}-${Date.now()}.cpuprofile`);
    const child = spawn(process.execPath, [...flags, ...options.args], {
      cwd: options.cwd,
      env: options.env,
      stdio: ['ignore', log, log, 'ipc'],
    });
    fs.closeSync(log);
    child.channel?.unref();
    const server = new ServerProcess(options.label, options.port, child, logFile);
    live.add(server);
    try {
      await server.waitReady(options.readyTimeoutMs ?? 30_000);
    } catch (error) {
      await server.stop();
      throw new Error(`${options.label} did not become ready: ${(error as Error).message}\n--- log tail ---\n${server.logTail()}`);
    }
    return server;
  }

  /** Resident set size from /proc, no probe needed. */
  rssBytes(): number {
    const status = fs.readFileSync(`/proc/${this.pid}/status`, 'utf8');
    const match = /VmRSS:\s+(\d+) kB/.exec(status);
    return match ? Number(match[1]) * 1024 : Number.NaN;
  }

  /** User + system CPU seconds used so far, from /proc (10 ms resolution). */
  cpuSeconds(): number {
    const stat = fs.readFileSync(`/proc/${this.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state): utime is field 14, stime field 15
    const ticks = Number(fields[11]) + Number(fields[12]);
    return ticks / 100;
  }

  /** Memory after full GCs; requires `memoryProbe`. */
  memory(timeoutMs = 10_000): Promise<MemoryUsage> {
    return this.request<MemoryUsage>({ type: 'bench:memory' }, timeoutMs);
  }

  /** Sends an IPC message `{type, ...}` and resolves with the first reply of the same type. */
  request<T>(message: { type: string; [key: string]: unknown }, timeoutMs = 60_000): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (!this.child.connected) return reject(new Error(`${this.label}: no IPC channel`));
      const timer = setTimeout(() => {
        this.child.removeListener('message', onMessage);
        reject(new Error(`${this.label}: no reply to ${message.type} within ${timeoutMs} ms`));
      }, timeoutMs);
      const onMessage = (reply: { type?: string; error?: string } & T) => {
        if (reply?.type !== message.type) return;
        clearTimeout(timer);
        this.child.removeListener('message', onMessage);
        if (reply.error) reject(new Error(`${this.label}: ${reply.error}`));
        else resolve(reply);
      };
      this.child.on('message', onMessage);
      this.child.send(message);
    });
  }

  logTail(lines = 30): string {
    try {
      return fs.readFileSync(this.logFile, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  /**
   * SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. The log is removed
   * when it is empty and the exit was clean, otherwise kept and listed in `keptLogs`.
   */
  async stop(graceMs = 5_000): Promise<void> {
    if (this.exitCode === undefined) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
      await this.exited;
      clearTimeout(timer);
    }
    if (this.child.connected) this.child.disconnect();
    if (!fs.existsSync(this.logFile)) return;
    if (this.exitCode === 0 && fs.statSync(this.logFile).size === 0) fs.rmSync(this.logFile, { force: true });
    else if (!keptLogs.some((kept) => kept.file === this.logFile)) keptLogs.push({ label: this.label, file: this.logFile, exitCode: this.exitCode });
  }

  private async waitReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const probe = buildRequest('GET', '/readyz', {});
    let last = 'no answer';
    while (Date.now() < deadline) {
      if (this.exitCode !== undefined) throw new Error(`exited with code ${this.exitCode}`);
      try {
        const response = await requestOnce(this.port, probe, 2_000);
        if (response.status === 200) return;
        last = `GET /readyz answered ${response.status}`;
      } catch (error) {
        last = (error as Error).message;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`timed out after ${timeoutMs} ms (${last})`);
  }
}

/** A port that was free a moment ago: bind port 0 on 127.0.0.1, read it, release it. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** The bare Socket.IO + Express baseline server (bench/baselines.ts) in its own process. */
export async function startBaseline(label: string, options: { memoryProbe?: boolean; env?: Readonly<Record<string, string>> } = {}): Promise<ServerProcess> {
  const port = await freePort();
  return ServerProcess.start({
    label: `baseline-${label}`,
    args: ['--import', 'tsx', path.join(PROJECT_ROOT, 'bench', 'baselines.ts')],
    cwd: PROJECT_ROOT,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? os.homedir(), PORT: String(port), NODE_ENV: 'production', ...options.env },
    port,
    memoryProbe: options.memoryProbe,
  });
}
