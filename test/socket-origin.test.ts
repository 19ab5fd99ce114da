import { expect } from 'chai';
import { connect } from './helpers/sockets.js';
import { useWorld } from './helpers/world.js';

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

  it('refuses a page of any other origin, even with a valid token', async () => {
    for (const origin of ['https://evil.example', 'null', 'http://127.0.0.1:1']) {
      const error = await withOrigin(origin).then(
        () => expect.fail(`${origin} was admitted`),
        (e: Error & { description?: { message?: string }; data?: unknown }) => e,
      );
      // refused at the upgrade with HTTP 400, before any token check (so no data.code)
      expect(error.message, origin).to.equal('websocket error');
      expect(error.description?.message, origin).to.match(/400/);
      expect(error.data, origin).to.equal(undefined);
    }
    // and the server goes on serving
    expect((await world.open('bob')).ready.userId).to.equal('bob');
  });
});
