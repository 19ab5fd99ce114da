/**
 * The real server as a child process (`node bin/www`, the compiled dist/ that `npm test` builds
 * first), on port 0, for tests that kill it or watch it survive: resolves once its start-up log
 * line says where it listens (it logs that only when ready to serve).
 *
 *   const server = await startServerProcess({ DATABASE_URL: db.url, JWT_SECRET: secret });
 *   server.proc.kill('SIGKILL'); await server.exited;
 *   afterEach(() => stopServerProcesses());
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface ServerProcess {
  proc: ChildProcess;
  url: string;
  /** The first 200 lines it wrote (stdout and stderr). */
  output: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  running: boolean;
  /** Whether it leads a process group of its own (a wrapped command): stopped as a group. */
  group: boolean;
}

const running = new Set<ServerProcess>();

/** Throws unless dist/ is built (npm test builds it before mocha runs). */
export function requireBuild(): void {
  if (!fs.existsSync(path.join(ROOT, 'dist', 'src', 'main.js'))) {
    throw new Error('dist/ is not built: run `npm run build` first (npm test does)');
  }
}

/**
 * How to start the server, when not as `node bin/www` in the project's root. Such a command (npx,
 * npm start) runs the server as a child of its own: it runs in a process group of its own, and
 * stopping it kills the whole group, so that no server outlives its test holding the output pipes.
 */
export interface StartCommand {
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd: string;
}

/**
 * Starts `node bin/www` (or `start`, e.g. an installed package's `npx chatty start`) with `env`
 * (NODE_ENV=test, port 0 on 127.0.0.1, LOG_LEVEL=info unless given).
 */
export async function startServerProcess(env: Record<string, string>, start: StartCommand = { command: process.execPath, args: ['bin/www'], cwd: ROOT }): Promise<ServerProcess> {
  const wrapped = start.command !== process.execPath;
  const proc = spawn(start.command, [...start.args], {
    cwd: start.cwd,
    detached: wrapped,
    env: { PATH: process.env.PATH ?? '', HOME: os.homedir(), PORT: '0', HOST: '127.0.0.1', NODE_ENV: 'test', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const child: ServerProcess = {
    proc,
    group: wrapped,
    url: '',
    output,
    running: true,
    exited: new Promise((resolve) =>
      proc.once('exit', (code, signal) => {
        child.running = false;
        running.delete(child);
        resolve({ code, signal });
      }),
    ),
  };
  running.add(child);
  const listening = new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server was not ready within 15 s:\n${output.join('\n')}`)), 15_000);
    let pending = '';
    proc.stdout!.on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) {
        if (output.length < 200) output.push(line);
        const port = /"msg":"chatty listening"/.test(line) ? (JSON.parse(line) as { port: number }).port : undefined;
        if (port !== undefined) {
          clearTimeout(timer);
          resolve(port);
        }
      }
    });
    proc.stderr!.on('data', (chunk: Buffer) => output.length < 200 && output.push(chunk.toString()));
    void child.exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`the server exited during start-up:\n${output.join('\n')}`));
    });
  });
  child.url = `http://127.0.0.1:${await listening}`;
  return child;
}

/** SIGKILLs every server process still running and waits for them to be gone. */
export async function stopServerProcesses(): Promise<void> {
  for (const child of [...running]) {
    if (child.group) process.kill(-child.proc.pid!, 'SIGKILL');
    else child.proc.kill('SIGKILL');
    await child.exited;
  }
}

/**
 * Runs `command` in `cwd` (default: the project's root) to its end, with only `env` (plus PATH,
 * HOME and NODE_ENV=test) and `input` on stdin: its exit code and what it wrote.
 */
export function runProcess(
  command: string,
  args: readonly string[],
  env: Record<string, string> = {},
  input = '',
  cwd = ROOT,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const proc = spawn(command, [...args], { cwd, env: { PATH: process.env.PATH ?? '', HOME: os.homedir(), NODE_ENV: 'test', ...env } });
    let stdout = '';
    let stderr = '';
    proc.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    proc.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    proc.on('exit', (code) => resolve({ code, stdout, stderr }));
    proc.stdin!.end(input);
  });
}
