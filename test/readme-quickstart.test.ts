/**
 * The README's quick start, verbatim (issue 28): its own snippets, read from README.md (never
 * copied here), run against a fresh server started as `node bin/www` with no configuration at all:
 * the shell line that mints the app server's token, the app server's calls, and the browser code,
 * whose reconnects must replay what it missed.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { io } from 'socket.io-client';
import type { Socket } from 'socket.io-client';
import { client } from './helpers/http.js';
import { requireBuild, runProcess, startServerProcess, stopServerProcesses } from './helpers/server-process.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const README = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');

/** The first fenced block of `language` after the text `after`. */
function snippet(after: string, language: string): string {
  const at = README.indexOf(after);
  if (at < 0) throw new Error(`README.md no longer says "${after}"`);
  const block = new RegExp('```' + language + '\\n([\\s\\S]*?)```').exec(README.slice(at));
  if (!block) throw new Error(`no ${language} block after "${after}" in README.md`);
  return block[1]!;
}


/** `promise`, or a failure naming `what` after `ms`. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([promise, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms).unref())]);
}

describe('the README quick start, verbatim (issue 28)', function () {
  this.timeout(60_000);
  let dir: string;
  let socket: Socket | undefined;
  before(() => requireBuild());
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chatty-quickstart-'))));
  afterEach(async () => {
    socket?.close();
    await stopServerProcesses();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('mints the token, subscribes and notifies from the app server, and the browser code gets it and replays what it missed', async () => {
    // no JWT_SECRET, no .env: the embedded defaults, as `npm start` on a fresh clone
    const env = { DATABASE_URL: `sqlite:${path.join(dir, 'chatty.db')}` };
    const server = await startServerProcess(env);
    const local = (code: string) => code.replaceAll('http://localhost:3000', server.url);

    const mint = await runProcess('bash', ['-e'], env, `${snippet('Your app server calls Chatty with a `service` token', 'sh')}\necho "$CHATTY_TOKEN"\n`);
    expect(mint.code, mint.stderr).to.equal(0);
    const token = mint.stdout.trim().split('\n').at(-1)!;
    expect(token.split('.')).to.have.length(3);

    // the browser snippet, with Socket.IO's client as `io` and alice's token (her app server mints it)
    const alice = (await runProcess('node', ['bin/www', 'token', '--sub', 'alice'], env)).stdout.trim();
    const browser = new Function('io', 'token', `${local(snippet('In the browser', 'js'))}\nreturn { socket, lastEventId: () => lastEventId };`) as (
      ioClient: (url: string, options: object) => Socket,
      token: string,
    ) => { socket: Socket; lastEventId: () => number | undefined };
    const page = browser((url: string, options: object) => io(url, { ...options, transports: ['websocket'], forceNew: true }) as Socket, alice);
    socket = page.socket;
    await new Promise<void>((resolve) => page.socket.once('ready', () => resolve()));

    // each app server snippet (the SDK's, then plain HTTP), as a module of its own with the minted
    // token in its environment; inside the package's folder, so that `chatty/client` resolves to
    // the built package itself, as it does for an app that installed it
    for (const [i, after] of ['From your app server in Node.js', 'From any other language'].entries()) {
      const appServer = path.join(ROOT, 'test-output', `quickstart-app-server-${process.pid}-${i}.mjs`);
      fs.mkdirSync(path.dirname(appServer), { recursive: true });
      fs.writeFileSync(appServer, local(snippet(after, 'js')));
      const updated = new Promise<[Record<string, unknown>, { id: number }]>((resolve) => page.socket.once('post:updated', (payload, meta) => resolve([payload, meta])));
      const called = await runProcess('node', [appServer], { CHATTY_TOKEN: token });
      fs.rmSync(appServer, { force: true });
      expect(called.code, `${after}: ${called.stderr}`).to.equal(0);
      const [payload, meta] = await within(updated, 10_000, `${after}: the browser code did not get post:updated`);
      expect(payload).to.deep.equal({ title: 'New title', origin: 'posts-12' });
      expect(page.lastEventId()).to.equal(meta.id);
    }

    // away, a notification is sent; back, the socket replays it (the auth function sent the newest id)
    page.socket.disconnect();
    const missed = await client(server.url, token).post('/control/notify?method=channels:posts-12', { event: 'post:updated', attributes: { title: 'While away' } });
    expect(missed.status).to.equal(202);
    const replayed = new Promise<Record<string, unknown>>((resolve) => page.socket.once('post:updated', (p) => resolve(p)));
    const ready = new Promise<{ replayed: number }>((resolve) => page.socket.once('ready', (r) => resolve(r)));
    page.socket.connect();
    expect(await within(replayed, 10_000, 'the reconnect did not replay the missed notification')).to.deep.equal({ title: 'While away' });
    expect((await ready).replayed).to.equal(1);
  });
});
