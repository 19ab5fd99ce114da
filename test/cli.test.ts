/**
 * The command line (`chatty <command>`, bin/www on the compiled dist/): each command as a user runs
 * it, and bad arguments refused with exit 2 and one line, nothing on stdout.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { secretWeakness } from '../src/auth/secret-strength.js';
import { client } from './helpers/http.js';
import { requireBuild, runProcess, startServerProcess, stopServerProcesses } from './helpers/server-process.js';
import { closeAllSockets, connect } from './helpers/sockets.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const chatty = (args: string[], env: Record<string, string> = {}) => runProcess(process.execPath, ['bin/www', ...args], env);

describe('the command line: chatty <command> (issue 28)', function () {
  this.timeout(30_000);
  let dir: string;
  before(() => requireBuild());
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chatty-cli-'))));
  afterEach(async () => {
    closeAllSockets();
    await stopServerProcesses();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('secret prints a fresh strong secret, and only that', async () => {
    const [one, two] = await Promise.all([chatty(['secret']), chatty(['secret'])]);
    expect(one.code).to.equal(0);
    const secret = one.stdout.trim();
    expect(one.stdout).to.equal(`${secret}\n`);
    expect(secret).to.match(/^[A-Za-z0-9_-]{64}$/);
    expect(secretWeakness(secret)).to.equal(undefined);
    expect(two.stdout.trim()).to.not.equal(secret);
  });

  it('config prints the documented .env template', async () => {
    const { code, stdout } = await chatty(['config']);
    expect(code).to.equal(0);
    expect(stdout).to.equal(fs.readFileSync(path.join(ROOT, '.env.example'), 'utf8'));
    expect(stdout).to.not.match(/^JWT_SECRET=/m);
  });

  it('token mints with the key ring of the configured store: the server started on it accepts the token', async () => {
    const env = { DATABASE_URL: `sqlite:${path.join(dir, 'chatty.db')}` };
    // before the server ever ran: the ring is seeded, and the server adopts it
    const service = await chatty(['token', '--sub', 'my-app', '--role', 'service'], env);
    expect(service.code, service.stderr).to.equal(0);
    const token = service.stdout.trim();
    expect(service.stdout).to.equal(`${token}\n`);
    const user = (await chatty(['token', '--sub', 'alice', '--ttl', '15m'], env)).stdout.trim();
    const server = await startServerProcess(env);
    expect((await client(server.url, token).get('/control/search/online')).status).to.equal(200);
    expect((await client(server.url, user).get('/control/search/online')).status, 'a user token is not a service token').to.equal(403);
    const socket = await connect(server.url, { token: user });
    expect(socket.ready.userId).to.equal('alice');
    const payload = JSON.parse(Buffer.from(user.split('.')[1]!, 'base64url').toString()) as { exp: number; iat: number };
    expect(payload.exp - payload.iat).to.equal(900);
  });

  it('prints help for the command line and for each command', async () => {
    for (const args of [['--help'], ['-h'], ['start', '--help'], ['token', '--help'], ['secret', '--help'], ['config', '--help']]) {
      const { code, stdout } = await chatty(args);
      expect(code, args.join(' ')).to.equal(0);
      expect(stdout, args.join(' ')).to.match(/^Usage: chatty/);
    }
  });

  it('refuses bad arguments with exit 2 and one line, printing nothing on stdout', async () => {
    const cases = [['bogus'], ['token'], ['token', '--sub', ''], ['token', '--sub', 'a', '--role', 'god'], ['token', '--sub', 'a', '--ttl', 'forever'], ['token', '--sub', 'a', '--ttl', '2y'], ['secret', '--sub', 'a'], ['config', '--nope'], ['token', '--sub', 'a', 'extra']];
    for (const args of cases) {
      const { code, stdout, stderr } = await chatty(args, { DATABASE_URL: `sqlite:${path.join(dir, 'unused.db')}` });
      expect(code, args.join(' ')).to.equal(2);
      expect(stdout, args.join(' ')).to.equal('');
      expect(stderr.trim().split('\n'), args.join(' ')).to.have.length(1);
      expect(stderr, args.join(' ')).to.match(/^chatty: /);
    }
    expect(fs.existsSync(path.join(dir, 'unused.db')), 'a refused token command touches no store').to.equal(false);
  });
});
