/**
 * A page on another origin connecting in Chromium (issue 29: clear errors at the edges). Its
 * origin missing from CORS_ORIGINS, the page gets a `connect_error` whose `data.code` says so
 * (before, an opaque `xhr poll error`); listed, it connects. The page uses Socket.IO's default
 * transports (long-polling first, so CORS applies) and the client the server itself serves.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import type { Browser } from 'playwright-core';
import { startServer, type TestServer } from './helpers/server.js';
import { launchBrowser } from './e2e/browser.js';

interface PageOutcome {
  ready?: { userId: string };
  error?: { message: string; data?: unknown };
}

/** An HTTP server on its own port (another origin) serving one page that connects to `chattyUrl`. */
async function pageServer(): Promise<{ origin: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://page.test');
    const chatty = url.searchParams.get('chatty') ?? '';
    res.setHeader('content-type', 'text/html; charset=utf-8');
    res.end(`<!doctype html><html><head><script src="${chatty}/socket.io/socket.io.js"></script></head><body><script>
      window.outcome = new Promise((resolve) => {
        const socket = io(${JSON.stringify(chatty)}, { auth: { token: ${JSON.stringify(url.searchParams.get('token') ?? '')} }, reconnection: false });
        socket.on('ready', (ready) => resolve({ ready: { userId: ready.userId } }));
        socket.on('connect_error', (error) => resolve({ error: { message: error.message, data: error.data } }));
      });
    </script></body></html>`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { origin: `http://127.0.0.1:${port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

describe('a page on another origin, in Chromium (issue 29)', function () {
  this.timeout(60_000);
  let browser: Browser;
  let page: Awaited<ReturnType<typeof pageServer>>;
  let chatty: TestServer | undefined;

  before(async () => {
    browser = await launchBrowser();
    page = await pageServer();
  });
  after(async () => {
    await browser?.close();
    await page?.close();
  });
  afterEach(async () => {
    await chatty?.close();
    chatty = undefined;
  });

  async function outcomeOf(server: TestServer): Promise<PageOutcome> {
    const context = await browser.newContext();
    try {
      const tab = await context.newPage();
      await tab.goto(`${page.origin}/?chatty=${encodeURIComponent(server.url)}&token=${encodeURIComponent(server.token('alice'))}`);
      return (await tab.evaluate('window.outcome')) as PageOutcome;
    } finally {
      await context.close();
    }
  }

  it('without CORS_ORIGINS: connect_error with data.code origin_not_allowed, naming the origin', async () => {
    chatty = await startServer();
    const outcome = await outcomeOf(chatty);
    expect(outcome.ready).to.equal(undefined);
    expect(outcome.error).to.deep.equal({
      message: `The origin ${page.origin} is not allowed: add it to CORS_ORIGINS`,
      data: { code: 'origin_not_allowed', origin: page.origin },
    });
  });

  it('with the page origin in CORS_ORIGINS: connects and gets ready', async () => {
    chatty = await startServer({ env: { CORS_ORIGINS: page.origin } });
    expect(await outcomeOf(chatty)).to.deep.equal({ ready: { userId: 'alice' } });
  });
});
