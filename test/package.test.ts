/**
 * The package as users get it (issue 28): `npm pack` builds and packs what running Chatty needs and
 * nothing else; the tarball, installed in an empty folder with its own dependencies only (no
 * TypeScript, no dev dependencies), starts with `npx chatty start` and with `npm start`, and
 * `import('chatty')` gives the library.
 *
 * The install skips dependency scripts: the one that has any, better-sqlite3, would compile its
 * native addon again (1–2 minutes here, with no prebuilt download offline), so the addon this
 * project's own install built is copied in. That is better-sqlite3's build, not this package's.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { client } from './helpers/http.js';
import { runProcess, startServerProcess, stopServerProcesses } from './helpers/server-process.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const NPX = process.platform === 'win32' ? 'npx.cmd' : 'npx';
const ADDON = path.join('node_modules', 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node');

describe('the package: npm pack, installed in an empty folder (issue 28)', function () {
  this.timeout(60_000);
  let dir: string;
  let tarball: string;
  let files: string[];
  /** The folder the tarball is installed in, and the installed package within it. */
  let app: string;
  let installed: string;

  before(async function () {
    this.timeout(180_000);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chatty-package-'));
    const packed = await runProcess(NPM, ['pack', '--json', '--pack-destination', dir], { npm_config_update_notifier: 'false' });
    expect(packed.code, packed.stderr).to.equal(0);
    const [report] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as { filename: string; files: { path: string }[] }[];
    tarball = path.join(dir, report!.filename);
    files = report!.files.map((file) => file.path);

    app = path.join(dir, 'app');
    fs.mkdirSync(app);
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'an-app', private: true }));
    const install = await runProcess(NPM, ['install', tarball, '--prefer-offline', '--ignore-scripts', '--no-audit', '--no-fund'], { npm_config_update_notifier: 'false' }, '', app);
    expect(install.code, install.stderr).to.equal(0);
    installed = path.join(app, 'node_modules', 'chatty');
    fs.mkdirSync(path.dirname(path.join(app, ADDON)), { recursive: true });
    fs.copyFileSync(path.join(ROOT, ADDON), path.join(app, ADDON));
  });

  afterEach(() => stopServerProcesses());
  after(() => dir && fs.rmSync(dir, { recursive: true, force: true }));

  it('packs the built code, the pages and the docs, and no sources, tests, maps or data', () => {
    for (const needed of ['package.json', 'README.md', 'LICENSE', '.env.example', 'bin/www', 'bin/build', 'dist/src/cli.js', 'dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/sdk/client.js', 'dist/src/sdk/client.d.ts', 'dist/config.js', 'views/index.html', 'views/chatty-client.js', 'views/chatty-client.d.ts']) {
      expect(files, needed).to.include(needed);
    }
    const unwanted = files.filter((file) => /^(src|test|bench|docs|data|\.ci)\//.test(file) || file.endsWith('.map') || file.endsWith('.db') || file === '.env');
    expect(unwanted).to.deep.equal([]);
  });

  it('installs with its dependencies only: no TypeScript, no test tools', () => {
    for (const devOnly of ['typescript', 'mocha', 'tsx', 'socket.io-client']) {
      expect(fs.existsSync(path.join(app, 'node_modules', devOnly)), devOnly).to.equal(false);
    }
  });

  it('npx chatty start serves the API and the chat page from a folder of its own', async () => {
    const server = await startServerProcess({}, { command: NPX, args: ['--no-install', 'chatty', 'start'], cwd: app });
    const api = client(server.url);
    expect((await api.get('/healthz')).status).to.equal(200);
    const page = await fetch(`${server.url}/`);
    expect(page.status).to.equal(200);
    expect(await page.text()).to.include('<html');
    // its data goes where it runs, not into the package
    expect(fs.existsSync(path.join(app, 'data', 'chatty.db'))).to.equal(true);
    expect(fs.existsSync(path.join(installed, 'data'))).to.equal(false);
  });

  it('npx chatty --help and chatty secret work from the installed bin', async () => {
    const help = await runProcess(NPX, ['--no-install', 'chatty', '--help'], {}, '', app);
    expect(help.code, help.stderr).to.equal(0);
    expect(help.stdout).to.match(/^Usage: chatty \[command\]/);
    const secret = await runProcess(NPX, ['--no-install', 'chatty', 'secret'], {}, '', app);
    expect(secret.code, secret.stderr).to.equal(0);
    expect(secret.stdout.trim()).to.match(/^[A-Za-z0-9_-]{64}$/);
  });

  it('npm start in the installed package runs the dist/ it came with, without a compiler', async () => {
    const server = await startServerProcess({ DATABASE_URL: 'sqlite::memory:' }, { command: NPM, args: ['start', '--silent'], cwd: installed });
    expect((await client(server.url).get('/healthz')).status).to.equal(200);
  });

  it("import('chatty') gives createChatty and loadConfig, and they serve; import('chatty/client') notifies through them", async () => {
    const script = `
      import { createChatty, loadConfig } from 'chatty';
      import { Chatty } from 'chatty/client';
      const secret = 'a-package-test-secret-of-plenty-of-characters-42';
      const chatty = await createChatty(loadConfig({ NODE_ENV: 'test', PORT: '0', HOST: '127.0.0.1', DATABASE_URL: 'sqlite::memory:', LOG_LEVEL: 'silent', JWT_SECRET: secret }));
      const { port } = await chatty.listen();
      const res = await fetch('http://127.0.0.1:' + port + '/healthz');
      const notified = await new Chatty({ url: 'http://127.0.0.1:' + port, secret }).notify({ users: ['alice'] }, 'hello');
      await chatty.close();
      console.log(JSON.stringify({ status: res.status, event: notified.event }));
    `;
    const run = await runProcess(process.execPath, ['--input-type=module', '-e', script], {}, '', app);
    expect(run.code, run.stderr).to.equal(0);
    expect(JSON.parse(run.stdout.trim())).to.deep.equal({ status: 200, event: 'hello' });
  });

  it('types the library, the socket protocol and the browser helper (chatty/browser) for TypeScript users', async () => {
    // a client of the package, type-checked against the installed declarations: each expected
    // error below must occur, so a declaration typed `any` fails this too
    fs.writeFileSync(
      path.join(app, 'client.ts'),
      `
      import { createChatty, loadConfig, type ClientToServerEvents, type ServerToClientEvents } from 'chatty';
      import { ChattyClient } from 'chatty/browser';
      import { Chatty, ChattyApiError } from 'chatty/client';
      void createChatty; void loadConfig;
      const sdk = new Chatty({ url: 'http://localhost:3000', token: 't' });
      // @ts-expect-error: channels-efficient is for notify, not for subscriptions
      void sdk.subscribe({ channelsEfficient: ['a'] }, { data: { type: 'posts', id: '1' } });
      export const codeOf = (error: unknown) => (error instanceof ChattyApiError ? error.code : undefined);
      type Send = Parameters<ClientToServerEvents['chat:send']>[0];
      const ok: Send = { channel: 'rooms-1', body: 'hi' };
      // @ts-expect-error: a message has a body
      const bad: Send = { channel: 'rooms-1' };
      const onReady: ServerToClientEvents['ready'] = (ready) => ready.lastEventId.toFixed();
      const client = new ChattyClient({ url: 'http://localhost:3000', storage: null });
      client.on('message', (message) => message.body.toUpperCase());
      // @ts-expect-error: there is no such listener type
      client.on('nonsense', () => {});
      export async function history(): Promise<number> {
        const answer = await client.history({ channel: 'rooms-1', limit: 10 });
        return answer.ok ? answer.messages.length : answer.error.code.length;
      }
      void ok; void bad; void onReady;
      `,
    );
    const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const options = ['--noEmit', '--strict', '--skipLibCheck', '--target', 'es2022', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--types', 'node', '--typeRoots', path.join(ROOT, 'node_modules', '@types')];
    const checked = await runProcess(process.execPath, [tsc, ...options, 'client.ts'], {}, '', app);
    expect(checked.code, checked.stdout + checked.stderr).to.equal(0);
  });
});
