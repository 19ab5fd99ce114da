import { expect } from 'chai';
import { captureLog } from './helpers/log.js';
import { connect } from './helpers/sockets.js';
import { useWorld } from './helpers/world.js';

/** Resolves with how a handshake with these headers ended: the user id, or "refused" for its origin. */
async function outcome(url: string, token: string, headers: Record<string, string>): Promise<string> {
  try {
    const socket = await connect(url, { token }, { extraHeaders: headers });
    socket.close();
    return socket.ready.userId;
  } catch (error) {
    const e = error as Error & { data?: { code?: string; origin?: string } };
    // a connect_error the page can read: why, and the origin that was refused
    expect(e.data, String(e)).to.deep.equal({ code: 'origin_not_allowed', origin: headers.origin });
    expect(e.message).to.equal(`The origin ${headers.origin} is not allowed: add it to CORS_ORIGINS`);
    return 'refused';
  }
}

describe('socket handshakes and their Origin (contract §8 CORS_ORIGINS)', () => {
  const world = useWorld({ env: { CORS_ORIGINS: 'https://app.example' } });
  const withOrigin = (origin: string) => connect(world.server.url, { token: world.server.token('alice') }, { extraHeaders: { origin } });

  it('admits clients that send no Origin (app servers, native clients)', async () => {
    const alice = await world.open('alice');
    expect(alice.ready.userId).to.equal('alice');
  });

  it('admits pages of this server and of CORS_ORIGINS', async () => {
    expect((await withOrigin(world.server.url)).ready.userId).to.equal('alice');
    expect((await withOrigin('https://app.example')).ready.userId).to.equal('alice');
  });

  it('refuses a page of any other origin, even with a valid token, before looking at the token', async () => {
    for (const origin of ['https://evil.example', 'null', 'http://127.0.0.1:1']) {
      expect(await outcome(world.server.url, world.server.token('alice'), { origin }), origin).to.equal('refused');
      // the origin is judged first: a bad token from a foreign page is refused for its origin
      expect(await outcome(world.server.url, 'not-a-token', { origin }), origin).to.equal('refused');
    }
    // and the server goes on serving
    expect((await world.open('bob')).ready.userId).to.equal('bob');
  });

  it('logs the first refusal of each origin once, with the setting that would admit it', async () => {
    const log = captureLog('warn');
    await world.start({ env: { CORS_ORIGINS: 'https://app.example' }, logger: log.logger });
    for (let i = 0; i < 3; i++) await outcome(world.server.url, world.server.token('alice'), { origin: 'https://once.example' });
    const lines = log.lines.filter((line) => line.origin === 'https://once.example');
    expect(lines).to.have.length(1);
    expect(lines[0]).to.include({ setting: 'CORS_ORIGINS', level: 40 });
    expect(lines[0]!.msg).to.match(/CORS_ORIGINS/);
  });
});

describe('socket Origin behind a proxy that rewrites Host (TRUST_PROXY, issue 9)', () => {
  const world = useWorld({ manual: true });
  // what a proxy in front of chat.example passes on after rewriting Host to its upstream's name
  const proxied = { host: 'chatty-upstream:3000', 'x-forwarded-host': 'chat.example', 'x-forwarded-proto': 'https' };
  const attempt = (headers: Record<string, string>) => outcome(world.server.url, world.server.token('alice'), headers);

  it('compares the Origin with X-Forwarded-Host and X-Forwarded-Proto when the request comes from a trusted proxy', async () => {
    // the test's connections come from 127.0.0.1: TRUST_PROXY=loopback (the default) trusts them
    await world.start({ env: { TRUST_PROXY: 'loopback' } });
    expect(await attempt({ ...proxied, origin: 'https://chat.example' })).to.equal('alice');
    expect(await attempt({ ...proxied, origin: 'https://chat.example:443' })).to.equal('alice');
    // another scheme, host or port is another origin
    expect(await attempt({ ...proxied, origin: 'http://chat.example' })).to.equal('refused');
    expect(await attempt({ ...proxied, origin: 'https://evil.example' })).to.equal('refused');
    expect(await attempt({ ...proxied, origin: 'https://chat.example:8443' })).to.equal('refused');
    // the Host the proxy rewrote to is not the page's origin
    expect(await attempt({ ...proxied, origin: 'https://chatty-upstream:3000' })).to.equal('refused');
    // the first of several forwarded values is the one the client asked for
    expect(await attempt({ ...proxied, 'x-forwarded-host': 'chat.example, inner.proxy', 'x-forwarded-proto': 'https, http', origin: 'https://chat.example' })).to.equal('alice');
    // a proxy that forwards the host but not the scheme: the host decides, as without a proxy
    expect(await attempt({ host: 'chatty-upstream:3000', 'x-forwarded-host': 'chat.example', origin: 'https://chat.example' })).to.equal('alice');
    // a trusted proxy that forwards no host: the Host header decides
    expect(await attempt({ origin: world.server.url })).to.equal('alice');
    // the hop count form of TRUST_PROXY trusts the peer too
    await world.start({ env: { TRUST_PROXY: '1' } });
    expect(await attempt({ ...proxied, origin: 'https://chat.example' })).to.equal('alice');
  });

  it('ignores forwarded headers from a peer it does not trust (a client can send them itself)', async () => {
    for (const trust of ['false', '10.0.0.0/8']) {
      await world.start({ env: { TRUST_PROXY: trust } });
      expect(await attempt({ ...proxied, origin: 'https://chat.example' }), `TRUST_PROXY=${trust}`).to.equal('refused');
      expect(await attempt({ 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https', origin: 'https://evil.example' }), `TRUST_PROXY=${trust}`).to.equal('refused');
      // Host still decides for it
      expect(await attempt({ 'x-forwarded-host': 'evil.example', origin: world.server.url }), `TRUST_PROXY=${trust}`).to.equal('alice');
    }
  });
});
