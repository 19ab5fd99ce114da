/**
 * Signals through `npm start` (issue 28): npm forwards SIGTERM and SIGINT to its script, and the
 * script must be the server itself (`exec`), or a shell in between keeps them and leaves the
 * server running, orphaned, on its port.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { requireBuild } from './helpers/server-process.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Whether something accepts connections on 127.0.0.1:`port`. */
const listening = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });

describe('signals to npm start stop the server (issue 28)', function () {
  this.timeout(30_000);
  let dir: string;
  /** npm's process group: npm, and whatever it started, killed after each test whatever happened. */
  let group: number | undefined;
  before(() => requireBuild());
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chatty-signals-'))));
  afterEach(() => {
    if (group !== undefined) {
      try {
        process.kill(-group, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    group = undefined;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`${signal}: the server shuts down and frees its port`, async () => {
      // --ignore-scripts skips prestart (the build, which npm test has done)
      const npm = spawn('npm', ['start', '--ignore-scripts'], {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? '', HOME: os.homedir(), PORT: '0', HOST: '127.0.0.1', NODE_ENV: 'test', LOG_LEVEL: 'info', DATABASE_URL: `sqlite:${path.join(dir, 'chatty.db')}` },
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      });
      group = npm.pid;
      const exited = new Promise<void>((resolve) => npm.once('exit', () => resolve()));
      let output = '';
      const port = await new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`not listening within 15 s:\n${output}`)), 15_000);
        npm.stdout!.on('data', (chunk: Buffer) => {
          output += chunk.toString();
          const line = output.split('\n').find((l) => l.includes('"msg":"chatty listening"'));
          if (line) {
            clearTimeout(timer);
            resolve((JSON.parse(line) as { port: number }).port);
          }
        });
      });
      expect(await listening(port)).to.equal(true);
      npm.kill(signal);
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
      // the server may finish closing a moment after npm has gone: wait for the port to be free
      const deadline = Date.now() + 10_000;
      while ((await listening(port)) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(await listening(port), 'nothing is left listening on the port').to.equal(false);
      expect(output).to.include('"msg":"chatty stopped"');
      npm.stdout!.destroy();
      npm.stderr!.destroy();
    });
  }
});
