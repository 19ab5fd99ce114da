/**
 * End-to-end tests of the browser client (issue 6): the chat page (`/`) and the operator page
 * (`/admin`) in headless Chromium against a real server, as a person would use them.
 */
import crypto from 'node:crypto';
import { expect } from 'chai';
import type { Browser, Locator, Page } from 'playwright-core';
import { client, doc } from './helpers/http.js';
import { startServer, type TestServer } from './helpers/server.js';
import { closeAllSockets, connect } from './helpers/sockets.js';
import { startReceiver } from './helpers/webhook-receiver.js';
import { collectProblems, launchBrowser, openPage, screenshot, type WatchedPage } from './e2e/browser.js';

const PASSWORD = 'correct horse battery';

describe('browser client, end to end (issue 6)', function () {
  this.timeout(60_000);
  this.slow(5_000);

  let browser: Browser;
  let servers: TestServer[] = [];
  let pages: WatchedPage[] = [];

  before(async () => {
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
  });

  afterEach(async function () {
    // Every page of the test: no CSP violation, no uncaught error, no dialog.
    const failures: string[] = [];
    for (const watched of pages) {
      const problems = await collectProblems(watched);
      for (const text of problems.csp) failures.push(`CSP: ${text}`);
      for (const text of problems.pageErrors) failures.push(`page error: ${text}`);
      for (const text of problems.dialogs) failures.push(`dialog: ${text}`);
    }
    for (const watched of pages) await watched.context.close().catch(() => {});
    pages = [];
    closeAllSockets();
    for (const server of servers) await server.close().catch(() => {});
    servers = [];
    if (failures.length && this.currentTest?.state === 'passed') {
      // Hook#error() makes Mocha fail the test that just ran (and go on with the next one).
      (this.test as unknown as { error(err: Error): void }).error(new Error(`problems on the pages:\n${failures.join('\n')}`));
    }
  });

  async function start(env: Record<string, string> = {}): Promise<TestServer> {
    const server = await startServer({ env });
    servers.push(server);
    return server;
  }

  async function newPage(): Promise<WatchedPage> {
    const watched = await openPage(browser);
    pages.push(watched);
    return watched;
  }

  /** A fresh username; the account's user id is `idOf(username)`. */
  function uniqueName(prefix: string): string {
    return `${prefix}-${crypto.randomBytes(3).toString('hex')}`;
  }

  /** A registered account's user id: its username in the accounts' namespace. */
  const idOf = (username: string) => `@${username}`;

  /** Opens `/admin` and signs in through its form. */
  async function signInToConsole(page: Page, server: TestServer, username: string, password: string): Promise<void> {
    await page.goto(server.url + '/admin');
    await page.locator('#admin-login-form').waitFor({ state: 'visible' });
    await page.fill('#admin-username', username);
    await page.fill('#admin-password', password);
    await page.click('#admin-login-btn');
    await page.locator('#admin-console').waitFor({ state: 'visible' });
    await hasText(page.locator('#admin-me'), `@${username}`);
  }

  /** Opens `/`, creates an account through the form, and waits until the socket is ready. */
  async function register(page: Page, server: TestServer, username: string): Promise<void> {
    await page.goto(server.url + '/');
    await page.locator('#login-form').waitFor({ state: 'visible' });
    await page.fill('#username', username);
    await page.fill('#password', PASSWORD);
    await page.click('#register-btn');
    await page.locator('#chat-view').waitFor({ state: 'visible' });
    await hasText(page.locator('#me-name'), idOf(username));
    await waitForState(page, 'connected');
  }

  function waitForState(page: Page, state: string, timeout = 15_000) {
    return page.locator(`#conn-state[data-state="${state}"]`).waitFor({ state: 'attached', timeout });
  }

  async function openConversation(page: Page, key: string, title = `#${key}`): Promise<void> {
    const item = page.locator(`#conversation-list [data-conversation="${key}"]`);
    await item.click();
    await page.locator(`#conversation[data-conversation="${key}"]`).waitFor({ state: 'attached' });
    await hasText(page.locator('#conversation-title'), title);
    await page.locator('#composer:not([disabled])').waitFor();
  }

  async function send(page: Page, body: string): Promise<void> {
    await page.fill('#composer', body);
    await page.press('#composer', 'Enter');
  }

  /** The confirmed message (li.message[data-id]) whose body is `body`. */
  function message(page: Page, body: string) {
    return page.locator('#messages li.message[data-id]').filter({
      has: page.locator('.body').getByText(body, { exact: true }),
    });
  }

  /** Two registered users, both subscribed to rooms-1 through the control API. */
  async function twoUsersInRoom(server: TestServer, title = '#rooms-1') {
    const aliceName = uniqueName('alice');
    const bobName = uniqueName('bob');
    const [aliceId, bobId] = [idOf(aliceName), idOf(bobName)];
    const api = client(server.url, server.serviceToken());
    const res = await api.post(`/control/subscription/subscribe?method=users:${aliceId},${bobId}`, doc(['rooms', '1']));
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    expect(res.body.data).to.deep.equal([{ type: 'channels', id: 'rooms-1' }]);

    const alice = await newPage();
    const bob = await newPage();
    await Promise.all([register(alice.page, server, aliceName), register(bob.page, server, bobName)]);
    for (const { page } of [alice, bob]) {
      await page.locator('#conversation-list [data-conversation="rooms-1"]').waitFor();
      await openConversation(page, 'rooms-1', title);
    }
    return { api, alice, bob, aliceId, bobId };
  }

  it('two users register, meet in a conversation set up by the app server, chat, type and read', async () => {
    const server = await start();
    const { alice, bob, aliceId, bobId } = await twoUsersInRoom(server);

    // Presence: each sees the other online in the conversation's member list.
    await alice.page.locator(`#presence-list [data-presence-user="${bobId}"].online`).waitFor();
    await bob.page.locator(`#presence-list [data-presence-user="${aliceId}"].online`).waitFor();

    // Alice types: Bob sees the indicator.
    await alice.page.fill('#composer', 'Hello B');
    await hasText(bob.page.locator('#typing'), `${aliceId} is typing…`);

    // Alice sends: both see the message, the indicator goes away, and Bob's read shows on Alice's page.
    await alice.page.press('#composer', 'Enter');
    await message(bob.page, 'Hello B').waitFor();
    await message(alice.page, 'Hello B').waitFor();
    await hasText(bob.page.locator('#typing'), '');
    const fromAlice = message(bob.page, 'Hello B');
    expect(await fromAlice.getAttribute('data-from')).to.equal(aliceId);
    expect(await fromAlice.locator('.from').textContent()).to.equal(aliceId);
    expect(await message(alice.page, 'Hello B').getAttribute('class')).to.contain('mine');
    await hasText(message(alice.page, 'Hello B').locator('.receipts'), `read by ${bobId}`);

    // And back: Bob types and answers, Alice sees both, and Bob sees Alice's receipt.
    await bob.page.fill('#composer', 'Hi A');
    await hasText(alice.page.locator('#typing'), `${bobId} is typing…`);
    await bob.page.press('#composer', 'Enter');
    await message(alice.page, 'Hi A').waitFor();
    expect(await message(alice.page, 'Hi A').getAttribute('data-from')).to.equal(bobId);
    await hasText(message(bob.page, 'Hi A').locator('.receipts'), `read by ${aliceId}`);
    // Bob has read up to his own answer: on Alice's page his receipt stays under the newest message
    // of someone else he read, never under his own (issue 31; tested strictly further down)
    await hasText(message(alice.page, 'Hi A').locator('.receipts'), '');
    await hasText(message(alice.page, 'Hello B').locator('.receipts'), `read by ${bobId}`);

    // Both pages show the conversation in the same order.
    for (const { page } of [alice, bob]) {
      const bodies = await page.locator('#messages li.message[data-id] .body').allTextContents();
      expect(bodies).to.deep.equal(['Hello B', 'Hi A']);
      expect(await page.locator('#messages li.message.pending').count()).to.equal(0);
    }

    // A reload keeps the session (cookie) and loads the history.
    await bob.page.reload();
    await waitForState(bob.page, 'connected');
    await openConversation(bob.page, 'rooms-1');
    await message(bob.page, 'Hello B').waitFor();
    await message(bob.page, 'Hi A').waitFor();

    await screenshot(alice.page, 'e2e-chat-page');
    await alice.page.setViewportSize({ width: 390, height: 844 });
    await screenshot(alice.page, 'e2e-chat-page-phone');

    // Signing out goes back to the form; a reload stays signed out (the cookie is cleared).
    await alice.page.click('#logout-btn');
    await alice.page.locator('#login-form').waitFor({ state: 'visible' });
    await alice.page.reload();
    await alice.page.locator('#login-form').waitFor({ state: 'visible' });
    expect(await alice.page.locator('#chat-view').isVisible()).to.equal(false);
  });

  it('renders a message body that looks like HTML as text', async () => {
    const server = await start();
    const { alice, bob } = await twoUsersInRoom(server);
    const xss = '<img src=x onerror=alert(1)>';

    await send(alice.page, xss);
    for (const { page } of [alice, bob]) {
      const item = message(page, xss);
      await item.waitFor();
      expect(await item.locator('.body').textContent()).to.equal(xss);
      expect(await page.locator('#messages img').count()).to.equal(0);
    }
    // Also from history, after a reload.
    await bob.page.reload();
    await waitForState(bob.page, 'connected');
    await openConversation(bob.page, 'rooms-1');
    await message(bob.page, xss).waitFor();
    expect(await message(bob.page, xss).locator('.body').textContent()).to.equal(xss);
    expect(await bob.page.locator('#messages img').count()).to.equal(0);
    // Nothing ran: no dialog on any page (afterEach also checks CSP violations and page errors).
    for (const watched of [alice, bob]) {
      expect((await collectProblems(watched)).dialogs).to.deep.equal([]);
    }
    expect(await bob.page.evaluate(() => document.querySelectorAll('img').length)).to.equal(0);
  });

  it('reconnects by itself after the server restarts on the same port', async () => {
    const first = await start();
    const { alice, bob } = await twoUsersInRoom(first);
    await send(alice.page, 'before restart');
    await message(bob.page, 'before restart').waitFor();

    // Stop the server: both pages show that they are reconnecting.
    servers = servers.filter((s) => s !== first);
    await first.close();
    await Promise.all([waitForState(alice.page, 'reconnecting'), waitForState(bob.page, 'reconnecting')]);

    // Start it again on the same port and database: both pages reconnect on their own.
    const second = await startServer({ dbPath: first.dbPath, env: { PORT: String(first.port), JWT_SECRET: first.secret } });
    servers.push(second);
    expect(second.port).to.equal(first.port);
    await Promise.all([waitForState(alice.page, 'connected', 30_000), waitForState(bob.page, 'connected', 30_000)]);

    // The conversation is still open, and a message sent after the restart arrives live.
    await hasText(bob.page.locator('#conversation-title'), '#rooms-1');
    await send(bob.page, 'after restart');
    await message(alice.page, 'after restart').waitFor();
    for (const { page } of [alice, bob]) {
      const bodies = await page.locator('#messages li.message[data-id] .body').allTextContents();
      expect(bodies).to.deep.equal(['before restart', 'after restart']);
    }
  });

  it('replays what a page missed while it was away, from the last event id it kept', async () => {
    const server = await start();
    const { api, alice, bob, bobId } = await twoUsersInRoom(server);
    await send(alice.page, 'while you were here');
    await message(bob.page, 'while you were here').waitFor();

    // Bob's tab leaves the page (its socket closes) but keeps its sessionStorage and cookie.
    await bob.page.goto('about:blank');
    await send(alice.page, 'while you were away');
    const res = await api.post(`/control/notify?method=users:${bobId}`, { event: 'away-note', attributes: { n: 1 } });
    expect(res.status, JSON.stringify(res.body)).to.equal(202);

    // Back in the same tab: the page reconnects with its lastEventId and gets both, a notification
    // (which is in no history, so only replay can bring it) and the chat message.
    await bob.page.goto(server.url + '/');
    await waitForState(bob.page, 'connected');
    await bob.page.locator('#notification-list li.notification[data-event="away-note"]').waitFor();
    expect(await bob.page.locator('#notification-list li.notification[data-event="away-note"]').count()).to.equal(1);
    await openConversation(bob.page, 'rooms-1');
    await message(bob.page, 'while you were away').waitFor();
  });

  it('loads older history on scroll, opens a private conversation by username, shows unread badges and presence', async () => {
    // the seeding below is one user posting 55 messages at once: per-user flood control off
    const server = await start({ CHAT_SEND_RATE: '0' });
    const aliceName = uniqueName('alice');
    const bobName = uniqueName('bob');
    const [aliceId, bobId] = [idOf(aliceName), idOf(bobName)];
    const api = client(server.url, server.serviceToken());
    expect((await api.post(`/control/subscription/subscribe?method=users:${aliceId},${bobId}`, doc(['rooms', '1']))).status).to.equal(200);

    // 55 older messages from Alice (more than one page of 50), sent by an app through sockets.
    const seeders = await Promise.all([0, 1, 2].map(() => connect(server.url, { token: server.token(aliceId) })));
    for (let i = 1; i <= 55; i += 1) {
      const ack = await seeders[i % 3]!.call('chat:send', { channel: 'rooms-1', body: `seed ${i}` });
      expect(ack.ok, JSON.stringify(ack)).to.equal(true);
    }
    for (const seeder of seeders) seeder.close();

    const alice = await newPage();
    const bob = await newPage();
    await Promise.all([register(alice.page, server, aliceName), register(bob.page, server, bobName)]);

    // Bob sees the unread count of rooms-1, opens it: the newest page, then older ones on scroll up.
    await hasText(bob.page.locator('[data-conversation="rooms-1"] .badge'), '55');
    await openConversation(bob.page, 'rooms-1');
    await message(bob.page, 'seed 55').waitFor();
    await bob.page.locator('[data-conversation="rooms-1"] .badge').waitFor({ state: 'detached' });
    await bob.page.locator('#messages').evaluate((list) => { list.scrollTop = 0; });
    await message(bob.page, 'seed 1').waitFor();
    const bodies = await bob.page.locator('#messages li.message[data-id] .body').allTextContents();
    expect(bodies).to.deep.equal(Array.from({ length: 55 }, (_, i) => `seed ${i + 1}`));
    await hasText(bob.page.locator('#history-status'), 'Beginning of the conversation');

    // Alice starts a private conversation by typing Bob's user id.
    await alice.page.fill('#new-dm', bobId);
    await alice.page.press('#new-dm', 'Enter');
    const dm = `dm:${[aliceId, bobId].sort().join(':')}`;
    await alice.page.locator(`#conversation[data-conversation="${dm}"]`).waitFor({ state: 'attached' });
    await hasText(alice.page.locator('#conversation-title'), bobId);
    // a conversation without a message is no contact: the server tells its presence once the first
    // is sent (the presence rule of issue 9, test/socket-presence-policy.test.ts); the page asks
    // again when the conversation is opened again
    await send(alice.page, 'psst');
    await message(alice.page, 'psst').waitFor();
    await openConversation(alice.page, 'rooms-1');
    await openConversation(alice.page, dm, bobId);
    await alice.page.locator(`#presence-list [data-presence-user="${bobId}"].online`).waitFor();

    // Bob, in rooms-1, gets the new conversation with an unread badge; opening it clears the badge.
    await hasText(bob.page.locator(`#conversation-list [data-conversation="${dm}"] .badge`), '1');
    await openConversation(bob.page, dm, aliceId);
    await message(bob.page, 'psst').waitFor();
    await bob.page.locator(`#conversation-list [data-conversation="${dm}"] .badge`).waitFor({ state: 'detached' });
    await hasText(message(alice.page, 'psst').locator('.receipts'), `read by ${bobId}`);

    // Bob leaves: Alice sees him go offline.
    await bob.context.close();
    await alice.page.locator(`#presence-list [data-presence-user="${bobId}"].offline`).waitFor();

    // A message while Bob is away: when he signs in again, the conversation is listed with its badge.
    await send(alice.page, 'are you there?');
    await message(alice.page, 'are you there?').waitFor();
    const bobAgain = await newPage();
    await bobAgain.page.goto(server.url + '/');
    await bobAgain.page.fill('#username', bobName);
    await bobAgain.page.fill('#password', PASSWORD);
    await bobAgain.page.click('#login-btn');
    await waitForState(bobAgain.page, 'connected');
    await hasText(bobAgain.page.locator(`#conversation-list [data-conversation="${dm}"] .badge`), '1');
    await alice.page.locator(`#presence-list [data-presence-user="${bobId}"].online`).waitFor();
  });

  it("never shows a reader's receipt under their own message, a reload reopens the conversation that was open, and a phone shows who is signed in (issue 31)", async () => {
    const server = await start();
    const { api, alice, bob, aliceId, bobId } = await twoUsersInRoom(server);

    // Alice writes, Bob reads it: "read by bob" under Alice's message
    await send(alice.page, 'hello bob');
    await message(bob.page, 'hello bob').waitFor();
    await hasText(message(alice.page, 'hello bob').locator('.receipts'), `read by ${bobId}`);
    // Bob answers: his page reads up to his own answer. That receipt must not show under his own
    // message; "read by bob" stays under the newest message of someone else
    await send(bob.page, 'my own answer');
    await message(alice.page, 'my own answer').waitFor();
    const answerId = Number(await message(bob.page, 'my own answer').getAttribute('data-id'));
    // once a notification sent after Bob's read reaches Alice's page, so has Bob's receipt
    const reader = await connect(server.url, { token: server.token(aliceId) });
    for (let i = 0; i < 50 && (await reader.call('chat:history', { channel: 'rooms-1' })).receipts[bobId] !== answerId; i++) await new Promise((r) => setTimeout(r, 50));
    expect((await reader.call('chat:history', { channel: 'rooms-1' })).receipts[bobId]).to.equal(answerId);
    expect((await api.post(`/control/notify?method=users:${aliceId}`, { event: 'after-read', attributes: {} })).status).to.equal(202);
    await alice.page.locator('#notification-list li.notification[data-event="after-read"]').waitFor();
    expect(await message(alice.page, 'my own answer').locator('.receipts').textContent()).to.equal('');
    expect(await message(alice.page, 'hello bob').locator('.receipts').textContent()).to.equal(`read by ${bobId}`);
    await screenshot(alice.page, 'e2e-receipts-not-under-own-message');

    // a private conversation open at reload is open again after it, on a desktop and on a phone
    await alice.page.fill('#new-dm', bobId);
    await alice.page.press('#new-dm', 'Enter');
    const dm = `dm:${[aliceId, bobId].sort().join(':')}`;
    await alice.page.locator(`#conversation[data-conversation="${dm}"]`).waitFor({ state: 'attached' });
    await send(alice.page, 'psst');
    await message(alice.page, 'psst').waitFor();
    for (const viewport of [{ width: 1280, height: 800 }, { width: 390, height: 844 }]) {
      await alice.page.setViewportSize(viewport);
      await alice.page.reload();
      await waitForState(alice.page, 'connected');
      await alice.page.locator(`#conversation[data-conversation="${dm}"]`).waitFor({ state: 'attached' });
      await hasText(alice.page.locator('#conversation-title'), bobId);
      await message(alice.page, 'psst').waitFor();
      // who is signed in stays visible, inside the viewport, on a phone too
      const me = alice.page.locator('#me-name');
      expect(await me.isVisible(), `#me-name at ${viewport.width}px`).to.equal(true);
      expect(await me.textContent()).to.equal(aliceId);
      const box = (await me.boundingBox())!;
      expect(box.x + box.width, `#me-name at ${viewport.width}px`).to.be.at.most(viewport.width);
      await screenshot(alice.page, `e2e-reload-reopens-dm-${viewport.width}`);
    }
    // and a group channel likewise
    await bob.page.reload();
    await waitForState(bob.page, 'connected');
    await bob.page.locator('#conversation[data-conversation="rooms-1"]').waitFor({ state: 'attached' });
    await message(bob.page, 'my own answer').waitFor();
    reader.close();
  });

  it('loads signed out without a 401 in the console, on the chat page and the operator page (issue 31)', async () => {
    const server = await start();
    const visitor = await newPage();
    const errors: string[] = [];
    visitor.page.on('console', (entry) => entry.type() === 'error' && errors.push(entry.text()));
    for (const path of ['/', '/admin']) {
      await visitor.page.goto(server.url + path);
      await visitor.page.locator(path === '/' ? '#login-form' : '#admin-login-form').waitFor({ state: 'visible' });
    }
    // signed in, a reload asks who it is and stays signed in; signed out again, no 401 either
    const name = uniqueName('erin');
    await register(visitor.page, server, name);
    await visitor.page.reload();
    await waitForState(visitor.page, 'connected');
    await hasText(visitor.page.locator('#me-name'), idOf(name));
    await visitor.page.click('#logout-btn');
    await visitor.page.locator('#login-form').waitFor({ state: 'visible' });
    await visitor.page.reload();
    await visitor.page.locator('#login-form').waitFor({ state: 'visible' });
    expect(errors).to.deep.equal([]);
  });

  it('shows notifications readably, newest first, with their channel and time, on a desktop and a phone (issue 31)', async () => {
    const server = await start();
    const api = client(server.url, server.serviceToken());
    const name = uniqueName('fay');
    expect((await api.post(`/control/subscription/subscribe?method=users:${idOf(name)}`, doc(['posts', '1']))).status).to.equal(200);
    const watched = await newPage();
    await register(watched.page, server, name);
    expect((await api.post('/control/notify?method=channels:posts-1&add=origin,date-time', { event: 'post:updated', attributes: { title: 'Hello', n: 2, tags: ['a', 'b'] } })).status).to.equal(202);
    expect((await api.post('/control/notify?method=channels:posts-1', { event: 'post:deleted', attributes: { id: 7 } })).status).to.equal(202);
    const items = watched.page.locator('#notification-list li.notification');
    await watched.page.locator('#notification-list li.notification[data-event="post:deleted"]').waitFor();
    expect(await items.evaluateAll((nodes) => nodes.map((node) => (node as HTMLElement).dataset.event))).to.deep.equal(['post:deleted', 'post:updated']);
    const updated = watched.page.locator('#notification-list li.notification[data-event="post:updated"]');
    expect(await updated.locator('.origin').textContent()).to.equal('#posts-1');
    expect(await updated.locator('time').getAttribute('datetime')).to.match(/^\d{4}-\d{2}-\d{2}T/);
    expect(await updated.locator('.attributes dt').allTextContents()).to.deep.equal(['title', 'n', 'tags']);
    expect(await updated.locator('.attributes dd').allTextContents()).to.deep.equal(['Hello', '2', '["a","b"]']);
    for (const viewport of [{ width: 1280, height: 800 }, { width: 390, height: 844 }]) {
      await watched.page.setViewportSize(viewport);
      expect(await updated.locator('.attributes').isVisible(), `at ${viewport.width}px`).to.equal(true);
      await screenshot(watched.page, `e2e-notifications-${viewport.width}`);
    }
  });

  it('lists a channel the app server subscribes the user to, and drops one it unsubscribes, without a reload, on a desktop and a phone (issue 31)', async () => {
    const server = await start();
    const api = client(server.url, server.serviceToken());
    const name = uniqueName('gus');
    const watched = await newPage();
    const { page } = watched;
    await register(page, server, name);
    const item = (key: string) => page.locator(`#conversation-list [data-conversation="${key}"]`);
    const change = async (action: 'subscribe' | 'unsubscribe', ...resources: [string, string][]) => {
      const res = await api.post(`/control/subscription/${action}?method=users:${idOf(name)}`, doc(...resources));
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
    };
    const loads = await page.evaluate(() => performance.getEntriesByType('navigation').length);

    await change('subscribe', ['rooms', '5'], ['teams', '2']);
    await item('rooms-5').waitFor();
    await item('teams-2').waitFor();
    await openConversation(page, 'rooms-5');
    await screenshot(page, 'e2e-subscriptions-changed-1280');

    // the open conversation is unsubscribed: it leaves the list and closes
    await change('unsubscribe', ['rooms', '5']);
    await item('rooms-5').waitFor({ state: 'detached' });
    await page.locator('#conversation[data-conversation="rooms-5"]').waitFor({ state: 'detached' });
    expect(await item('teams-2').count()).to.equal(1);

    await page.setViewportSize({ width: 390, height: 844 });
    await change('subscribe', ['rooms', '6']);
    await item('rooms-6').waitFor();
    expect(await item('rooms-6').isVisible()).to.equal(true);
    await screenshot(page, 'e2e-subscriptions-changed-390');

    // no reload happened, and the changes are not shown as notifications
    expect(await page.evaluate(() => performance.getEntriesByType('navigation').length)).to.equal(loads);
    expect(await page.locator('#notification-list li.notification').count()).to.equal(0);
    // the client's list is current: a reload (a fresh ready) shows the same channels
    await page.reload();
    await waitForState(page, 'connected');
    await item('rooms-6').waitFor();
    expect(await page.locator('#conversation-list [data-kind="channel"]').evaluateAll((nodes) => nodes.map((n) => (n as HTMLElement).dataset.conversation))).to.deep.equal(['rooms-6', 'teams-2']);
  });

  it('operator page: shows API errors, notifies, rotates the secret and the chat page is sent back to sign in', async () => {
    const adminPassword = 'operator password 1';
    const server = await start({ ADMIN_USERNAME: 'root-op', ADMIN_PASSWORD: adminPassword });

    // A user on the chat page.
    const user = await newPage();
    const userName = uniqueName('carol');
    await register(user.page, server, userName);

    // The operator signs in on /admin.
    const admin = await newPage();
    await signInToConsole(admin.page, server, 'root-op', adminPassword);
    // The chat user is online.
    await admin.page.locator(`#online-list li[data-user-id="${idOf(userName)}"]`).waitFor();

    // A failing action shows the API's error message.
    await admin.page.selectOption('#notify-mode', 'users');
    await admin.page.fill('#notify-list', 'bad name,');
    await admin.page.fill('#notify-event', 'greeting');
    await admin.page.fill('#notify-attributes', '{"text": "hi"}');
    await admin.page.click('#notify-btn');
    await admin.page.locator('#notify-result[data-status="error"]').waitFor({ state: 'attached' });
    const apiError = await client(server.url, server.adminToken()).post(
      `/control/notify?method=${encodeURIComponent('users:bad name,')}`,
      { event: 'greeting', attributes: { text: 'hi' } },
    );
    expect(apiError.status).to.equal(400);
    const detail: string = apiError.body.errors[0].detail ?? apiError.body.errors[0].title;
    expect(detail).to.be.a('string').and.not.empty;
    expect(await admin.page.locator('#notify-result').textContent()).to.contain(detail);
    await hasText(admin.page.locator('#admin-error'), `Notify: ${detail}`);

    // A good notify reaches the user's page.
    await admin.page.fill('#notify-list', idOf(userName));
    await admin.page.click('#notify-btn');
    await admin.page.locator('#notify-result[data-status="ok"]').waitFor({ state: 'attached' });
    expect(await admin.page.locator('#admin-error').textContent()).to.equal('');
    const notification = user.page.locator('#notification-list li.notification[data-event="greeting"]');
    await notification.waitFor();
    expect(JSON.parse((await notification.locator('.payload').textContent())!)).to.deep.equal({ text: 'hi' });

    // Subscribing through the form, and a user's subscriptions.
    await admin.page.selectOption('#subscribe-mode', 'users');
    await admin.page.fill('#subscribe-list', idOf(userName));
    await admin.page.fill('#subscribe-document', JSON.stringify({ data: { type: 'posts', id: '12' } }));
    await admin.page.click('#subscribe-btn');
    await admin.page.locator('#subscribe-result[data-status="ok"]').waitFor({ state: 'attached' });
    await admin.page.fill('#subs-user', idOf(userName));
    await admin.page.click('#subs-btn');
    await admin.page.locator('#subs-result[data-status="ok"]').waitFor({ state: 'attached' });
    expect(JSON.parse((await admin.page.locator('#subs-result').textContent())!).data).to.deep.equal([{ type: 'channels', id: 'posts-12', attributes: { label: null } }]);

    // A secret that is too short: the API's 422 message (after the confirmation).
    await admin.page.fill('#rotate-secret', 'short');
    await admin.page.click('#rotate-btn');
    await admin.page.click('#rotate-confirm-btn');
    await admin.page.locator('#rotate-result[data-status="error"]').waitFor({ state: 'attached' });
    expect(await admin.page.locator('#rotate-result').textContent()).to.contain('HTTP 422');

    await screenshot(admin.page, 'e2e-admin-page');

    // Rotate with no grace: the user's session ends and the chat page asks to sign in again.
    const [oldKey] = await admin.page.locator('#keys-list li.key').evaluateAll((nodes) => nodes.map((n) => (n as HTMLElement).dataset.keyId));
    await admin.page.click('#rotate-generate');
    await admin.page.fill('#rotate-grace', '0');
    await admin.page.click('#rotate-btn');
    expect(await admin.page.locator('#rotate-consequence').textContent()).to.contain('stop working now');
    await admin.page.click('#rotate-confirm-btn');
    await admin.page.locator('#rotate-result[data-status="ok"]').waitFor({ state: 'attached' });
    await admin.page.locator('#keys-list li.key[data-current="true"]').filter({ hasNotText: oldKey! }).waitFor();
    expect(await admin.page.locator('#keys-list li.key').count()).to.equal(1);
    expect(await admin.page.locator('#rotate-secret').inputValue()).to.equal('');

    await user.page.locator('#login-form').waitFor({ state: 'visible' });
    await waitForState(user.page, 'auth-failed');
    expect(await user.page.locator('#chat-view').isVisible()).to.equal(false);
    await hasText(user.page.locator('#auth-info'), 'Your session has ended. Please sign in again.');

    // Signing in again works with the new key.
    await user.page.fill('#username', userName);
    await user.page.fill('#password', PASSWORD);
    await user.page.click('#login-btn');
    await waitForState(user.page, 'connected');
    await user.page.locator('#conversation-list [data-conversation="posts-12"]').waitFor();

    // The operator's own session was signed again with the new key: the console keeps working.
    await admin.page.click('#online-refresh');
    await admin.page.locator(`#online-list li[data-user-id="${idOf(userName)}"]`).waitFor();
    expect(await admin.page.locator('#admin-console').isVisible()).to.equal(true);
    expect(await admin.page.locator('#admin-login').isVisible()).to.equal(false);
  });

  it('operator console: sockets on every node with disconnect, and channels with their counts, on a desktop and a phone (issue 32)', async () => {
    const adminPassword = 'operator password 3';
    const server = await start({ ADMIN_USERNAME: 'root-live', ADMIN_PASSWORD: adminPassword });
    const api = client(server.url, server.serviceToken());
    const name = uniqueName('hal');
    expect((await api.post(`/control/subscription/subscribe?method=users:${idOf(name)},offline-1`, doc(['rooms', '9']))).status).to.equal(200);
    const user = await newPage();
    await register(user.page, server, name);
    const admin = await newPage();
    await signInToConsole(admin.page, server, 'root-live', adminPassword);

    const socketItem = admin.page.locator(`#sockets-list li.socket[data-user-id="${idOf(name)}"]`);
    await socketItem.waitFor();
    const firstSocket = await socketItem.getAttribute('data-socket-id');
    expect(await socketItem.locator('.socket-meta').textContent()).to.match(/^websocket · \S+ · node \S+ · token until /);
    const channel = admin.page.locator('#channels-list li.channel[data-channel="rooms-9"]');
    await channel.waitFor();
    expect(await channel.locator('.subscribers').textContent()).to.equal('2 subscribers');
    expect(await channel.locator('.online').textContent()).to.equal('1 online');
    await admin.page.fill('#channels-prefix', 'nothing-');
    await admin.page.click('#channels-search');
    await hasText(admin.page.locator('#channels-status'), 'No channel has subscribers.');
    // a channel's label (contract §11) shows beside its name
    expect((await api.put('/control/channels/rooms-9', { data: { type: 'channels', attributes: { label: 'Room <i>Nine</i>' } } })).status).to.equal(200);
    await admin.page.fill('#channels-prefix', 'rooms-');
    await admin.page.click('#channels-search');
    await channel.waitFor();
    expect(await channel.locator('.channel-label').textContent()).to.equal('Room <i>Nine</i>');
    // "Participants" fills the participants lookup
    await channel.getByRole('button').click();
    await admin.page.locator('#participants-result[data-status="ok"]').waitFor({ state: 'attached' });
    expect(await admin.page.locator('#participants-channel').inputValue()).to.equal('rooms-9');

    for (const viewport of [{ width: 1280, height: 800 }, { width: 390, height: 844 }]) {
      await admin.page.setViewportSize(viewport);
      expect(await socketItem.locator('.disconnect').isVisible(), `at ${viewport.width}px`).to.equal(true);
      await screenshot(admin.page, `e2e-admin-live-${viewport.width}`);
    }

    // disconnecting the socket: it leaves the list; the page, which is not banned, reconnects with another
    await socketItem.locator('.disconnect').click();
    await admin.page.locator(`#sockets-list li.socket[data-socket-id="${firstSocket}"]`).waitFor({ state: 'detached' });
    await waitForState(user.page, 'connected');
    await admin.page.click('#sockets-refresh');
    await socketItem.waitFor();
    expect(await socketItem.getAttribute('data-socket-id')).to.not.equal(firstSocket);
  });

  it('operator console: the live feed shows a notify sent through the control API and watches one channel; charts of the node (issue 32)', async () => {
    const adminPassword = 'operator password 4';
    const server = await start({ ADMIN_USERNAME: 'root-feed', ADMIN_PASSWORD: adminPassword });
    const api = client(server.url, server.serviceToken());
    const admin = await newPage();
    await signInToConsole(admin.page, server, 'root-feed', adminPassword);
    await admin.page.locator('#feed-status[data-state="connected"]').waitFor({ state: 'attached' });
    await hasText(admin.page.locator('#feed-status'), 'watching every event');

    const notified = await api.post('/control/notify?method=channels:rooms-7', { event: 'room:updated', attributes: { title: 'Seven <b>bold</b>' } });
    expect(notified.status).to.equal(202);
    const entry = admin.page.locator(`#feed-list li.feed-entry[data-id="${notified.body.data.id}"]`);
    await entry.waitFor();
    expect(await entry.locator('.event').textContent()).to.equal('room:updated');
    expect(await entry.locator('.target').textContent()).to.equal('channels: rooms-7');
    expect(await entry.locator('.feed-payload').textContent()).to.equal('{"title":"Seven <b>bold</b>"}');
    expect(await entry.locator('b').count(), 'shown as text').to.equal(0);

    // watch one channel: another channel's notify is not shown, this one's is, newest first
    await admin.page.selectOption('#feed-kind', 'channel');
    await admin.page.fill('#feed-name', 'rooms-8');
    await admin.page.click('#feed-apply');
    await hasText(admin.page.locator('#feed-status'), 'watching #rooms-8');
    const other = await api.post('/control/notify?method=channels:rooms-7', { event: 'other', attributes: {} });
    const mine = await api.post('/control/notify?method=channels:rooms-8', { event: 'mine', attributes: { n: 8 } });
    await admin.page.locator(`#feed-list li.feed-entry[data-id="${mine.body.data.id}"]`).waitFor();
    expect(await admin.page.locator(`#feed-list li.feed-entry[data-id="${other.body.data.id}"]`).count()).to.equal(0);
    expect(await admin.page.locator('#feed-list li.feed-entry').evaluateAll((nodes) => nodes.map((n) => (n as HTMLElement).dataset.event))).to.deep.equal(['mine', 'room:updated']);
    // the charts of the node's figures, drawn by uPlot from the package (the CSP allows nothing else)
    await admin.page.locator('#charts-status[data-samples]').waitFor({ state: 'attached' });
    for (const id of ['chart-sockets', 'chart-traffic', 'chart-lag']) expect(await admin.page.locator(`#${id} canvas`).count(), id).to.equal(1);
    expect(await admin.page.locator('#charts-node').textContent()).to.equal(server.chatty.config.nodeId);
    for (const viewport of [{ width: 1280, height: 800 }, { width: 390, height: 844 }]) {
      await admin.page.setViewportSize(viewport);
      expect(await entry.isVisible(), `at ${viewport.width}px`).to.equal(true);
      expect((await admin.page.locator('#chart-traffic canvas').boundingBox())!.width, `chart fits at ${viewport.width}px`).to.be.at.most(viewport.width);
      await screenshot(admin.page, `e2e-admin-feed-${viewport.width}`);
    }
  });

  it('operator console: accounts disabled, enabled, promoted and given a new password; the bootstrap admin protected (issue 32)', async () => {
    const adminPassword = 'operator password 5';
    const server = await start({ ADMIN_USERNAME: 'root-acc', ADMIN_PASSWORD: adminPassword });
    const name = uniqueName('ivy');
    const user = await newPage();
    await register(user.page, server, name);
    const admin = await newPage();
    await signInToConsole(admin.page, server, 'root-acc', adminPassword);
    const row = (username: string) => admin.page.locator(`#accounts-list li.account[data-username="${username}"]`);
    await row(name).waitFor();
    // the bootstrap admin (here also the signed-in operator) offers no way to lock it out
    expect(await row('root-acc').locator('.account-badges').textContent()).to.equal('admin · bootstrap admin · you');
    expect(await row('root-acc').locator('.account-toggle').isVisible()).to.equal(false);
    expect(await row('root-acc').locator('select.account-role').isDisabled()).to.equal(true);

    // disabling ivy ends her session: the chat page goes back to sign-in, and signing in fails
    await row(name).locator('.account-toggle').click();
    await admin.page.locator(`#accounts-list li.account[data-username="${name}"][data-disabled="true"]`).waitFor();
    await user.page.locator('#login-form').waitFor({ state: 'visible' });
    await user.page.fill('#username', name);
    await user.page.fill('#password', PASSWORD);
    await user.page.click('#login-btn');
    await hasText(user.page.locator('#auth-error'), 'Unknown username or wrong password');
    for (const viewport of [{ width: 1280, height: 800 }, { width: 390, height: 844 }]) {
      await admin.page.setViewportSize(viewport);
      expect(await row(name).locator('.account-toggle').isVisible(), `at ${viewport.width}px`).to.equal(true);
      await screenshot(admin.page, `e2e-admin-accounts-${viewport.width}`);
    }
    await admin.page.setViewportSize({ width: 1280, height: 800 });

    // enabled, promoted, and given a new password: she signs in with it, as an admin
    await row(name).locator('.account-toggle').click();
    await admin.page.locator(`#accounts-list li.account[data-username="${name}"][data-disabled="false"]`).waitFor();
    await row(name).locator('select.account-role').selectOption('admin');
    await admin.page.locator(`#accounts-list li.account[data-username="${name}"][data-role="admin"]`).waitFor();
    await row(name).locator('.account-reset input').fill('ivy has a new password');
    await row(name).locator('.account-reset button').click();
    await hasText(admin.page.locator('#accounts-status'), `${name}: changed; its older tokens no longer work.`);
    const login = await client(server.url).post('/auth/login', { username: name, password: 'ivy has a new password' });
    expect(login.status).to.equal(200);
    expect((await client(server.url, login.body.data.attributes.token).get('/auth/test-jwt')).body.meta.role).to.equal('admin');
  });

  it('operator console: a webhook endpoint created (its secret shown once), its failure shown, disabled, rotated and deleted (issue 14)', async () => {
    const adminPassword = 'operator password 7';
    const server = await start({ ADMIN_USERNAME: 'root-hook', ADMIN_PASSWORD: adminPassword, WEBHOOK_ALLOW_PRIVATE: 'true' });
    const receiver = await startReceiver();
    try {
      receiver.answer(500);
      const admin = await newPage();
      await signInToConsole(admin.page, server, 'root-hook', adminPassword);
      await admin.page.fill('#webhook-url', receiver.url);
      for (const type of ['chat.message', 'chat.read', 'chat.deleted', 'presence.online', 'presence.offline', 'subscription.changed']) {
        await admin.page.locator(`#webhook-events input[value="${type}"]`).uncheck();
      }
      await admin.page.fill('#webhook-channels', 'posts-*');
      await admin.page.click('#webhook-create');
      await admin.page.locator('#webhook-secret', { hasText: 'Copy it now' }).waitFor();
      const row = admin.page.locator('#webhooks-list li.webhook');
      await row.waitFor();
      expect(await row.locator('.webhook-url').textContent()).to.equal(receiver.url);
      expect(await row.locator('.webhook-events').textContent()).to.contain('notification.accepted · channels posts-*');
      const [endpoint] = (await client(server.url, server.adminToken()).get('/control/webhooks')).body.data;
      expect(endpoint.attributes).to.deep.include({ events: ['notification.accepted'], channels: ['posts-*'] });
      const secret = /whsec_\S+/.exec((await admin.page.locator('#webhook-secret').textContent())!)![0];

      // the receiver fails: the console says why once refreshed
      expect((await client(server.url, server.serviceToken()).post('/control/notify?method=channels:posts-1', { event: 'post.created', attributes: {} })).status).to.equal(202);
      const [call] = await receiver.waitForCalls(1);
      receiver.verify(call!, secret);
      await admin.page.click('#webhooks-refresh');
      await row.locator('.webhook-error', { hasText: 'HTTP 500: receiver says no' }).waitFor();
      for (const viewport of [{ width: 1280, height: 800 }, { width: 390, height: 844 }]) {
        await admin.page.setViewportSize(viewport);
        expect((await row.boundingBox())!.width, `fits at ${viewport.width}px`).to.be.at.most(viewport.width);
        await screenshot(admin.page, `e2e-admin-webhooks-${viewport.width}`);
      }
      await admin.page.setViewportSize({ width: 1280, height: 800 });

      await row.locator('.webhook-toggle').click();
      await admin.page.locator('#webhooks-list li.webhook[data-status="disabled"]').waitFor();
      // rotation and deletion each take a second click
      await row.locator('.webhook-rotate').click();
      await hasText(row.locator('.webhook-rotate'), 'Really rotate?');
      await row.locator('.webhook-rotate').click();
      await admin.page.locator('#webhook-secret', { hasText: 'New secret' }).waitFor();
      expect(await admin.page.locator('#webhook-secret').textContent()).to.not.contain(secret);
      await row.locator('.webhook-delete').click();
      await row.locator('.webhook-delete').click();
      await row.waitFor({ state: 'detached' });
      expect((await client(server.url, server.adminToken()).get('/control/webhooks')).body.data).to.deep.equal([]);
    } finally {
      await receiver.close();
    }
  });

  it('moderation in the console: a message deleted there is shown removed on the chat page at once; system messages and export (issue 33)', async () => {
    const adminPassword = 'operator password 6';
    const server = await start({ ADMIN_USERNAME: 'root-mod', ADMIN_PASSWORD: adminPassword });
    const { api, alice, bob } = await twoUsersInRoom(server);
    await send(alice.page, 'a message to remove');
    await send(alice.page, 'a message to keep');
    await message(bob.page, 'a message to keep').waitFor();
    // the app server speaks as the system: both pages show it from "system"
    expect((await api.post('/control/conversations/rooms-1/messages', { data: { type: 'messages', attributes: { body: 'Welcome, both of you' } } })).status).to.equal(201);
    const system = message(bob.page, 'Welcome, both of you');
    await system.waitFor();
    expect(await system.locator('.from').textContent()).to.equal('system');
    expect(await system.getAttribute('class')).to.contain('system');

    const admin = await newPage();
    await signInToConsole(admin.page, server, 'root-mod', adminPassword);
    await admin.page.fill('#moderation-channel', 'rooms-1');
    await admin.page.click('#moderation-load');
    const items = admin.page.locator('#moderation-list li.message');
    await items.nth(2).waitFor();
    expect(await items.locator('.body').allTextContents()).to.deep.equal(['a message to remove', 'a message to keep', 'Welcome, both of you']);
    expect(await admin.page.locator('#moderation-export').getAttribute('href')).to.equal('/control/conversations/rooms-1/export');
    // the export link serves the conversation as a JSON file
    const exported = await admin.page.evaluate(async (href) => {
      const res = await fetch(href!);
      return { disposition: res.headers.get('content-disposition'), count: (await res.json()).meta.count };
    }, await admin.page.locator('#moderation-export').getAttribute('href'));
    expect(exported).to.deep.equal({ disposition: 'attachment; filename="rooms-1.json"', count: 3 });

    await items.first().locator('.delete').click();
    await admin.page.locator('#moderation-list li.message.deleted').waitFor();
    for (const { page } of [alice, bob]) {
      await page.locator('#messages li.message.deleted').waitFor();
      expect(await page.locator('#messages li.message.deleted .body').textContent()).to.equal('This message was removed.');
      expect(await page.locator('#messages').textContent()).to.not.contain('a message to remove');
    }
    // after a reload, the history shows it removed too
    await bob.page.reload();
    await waitForState(bob.page, 'connected');
    await openConversation(bob.page, 'rooms-1');
    await message(bob.page, 'a message to keep').waitFor();
    expect(await bob.page.locator('#messages li.message.deleted .body').textContent()).to.equal('This message was removed.');
    for (const viewport of [{ width: 1280, height: 800 }, { width: 390, height: 844 }]) {
      await admin.page.setViewportSize(viewport);
      expect(await items.nth(1).locator('.delete').isVisible(), `at ${viewport.width}px`).to.equal(true);
      await screenshot(admin.page, `e2e-admin-moderation-${viewport.width}`);
      await bob.page.setViewportSize(viewport);
      await screenshot(bob.page, `e2e-chat-removed-${viewport.width}`);
    }
  });

  it('two users see each other by name and avatar, and a channel by its label, updated live (contract §11)', async () => {
    const server = await start();
    const api = client(server.url, server.serviceToken());
    expect((await api.put('/control/channels/rooms-1', { data: { type: 'channels', attributes: { label: 'Room One' } } })).status).to.equal(200);
    const { alice, bob, aliceId, bobId } = await twoUsersInRoom(server, 'Room One');
    await hasText(bob.page.locator('#conversation-list [data-conversation="rooms-1"] .conv-name'), 'Room One');
    await hasText(bob.page.locator('#conversation-title'), 'Room One');

    // alice names herself from her own page (PATCH /auth/me with her login cookie)
    const patched = await alice.page.evaluate(async () => {
      const res = await fetch('/auth/me', {
        method: 'PATCH',
        headers: { 'Content-Type': 'application/vnd.api+json' },
        body: JSON.stringify({ data: { type: 'users', attributes: { name: 'Alice <b>A.</b>', avatar: 'https://avatars.example/alice.png' } } }),
      });
      return res.status;
    });
    expect(patched).to.equal(200);
    await send(alice.page, 'Hello from Alice');
    const fromAlice = message(bob.page, 'Hello from Alice');
    await fromAlice.waitFor();
    await hasText(fromAlice.locator('.from'), 'Alice <b>A.</b>');
    expect(await fromAlice.locator('.from b').count(), 'a name is text').to.equal(0);
    expect(await fromAlice.getAttribute('data-from')).to.equal(aliceId);
    const avatar = fromAlice.locator('img.avatar');
    // no network here: the picture fails to load and is dropped, but it was asked for without a referrer
    if ((await avatar.count()) > 0) expect(await avatar.getAttribute('referrerpolicy')).to.equal('no-referrer');
    await hasText(bob.page.locator(`#presence-list [data-presence-user="${aliceId}"] .person-name`), 'Alice <b>A.</b>');
    expect(await bob.page.locator(`#presence-list [data-presence-user="${aliceId}"] .person-id`).textContent()).to.equal(aliceId);

    // the app server names bob: alice's page follows without a reload (the profile event)
    expect((await api.put(`/control/users/${encodeURIComponent(bobId)}/profile`, { data: { type: 'users', attributes: { name: 'Bob B.' } } })).status).to.equal(200);
    await hasText(alice.page.locator(`#presence-list [data-presence-user="${bobId}"] .person-name`), 'Bob B.');
    await send(bob.page, 'Hi Alice');
    await hasText(message(alice.page, 'Hi Alice').locator('.from'), 'Bob B.');
    for (const viewport of [{ width: 1280, height: 800 }, { width: 390, height: 844 }]) {
      for (const { page } of [alice, bob]) await page.setViewportSize(viewport);
      await screenshot(bob.page, `e2e-profiles-bob-${viewport.width}`);
      await screenshot(alice.page, `e2e-profiles-alice-${viewport.width}`);
    }
  });

  it('operator console: the key ring, and a rotation that asks first, explains its grace and keeps app servers working (issue 32)', async () => {
    const adminPassword = 'operator password 2';
    const server = await start({ ADMIN_USERNAME: 'root-keys', ADMIN_PASSWORD: adminPassword });
    const app = client(server.url, server.serviceToken());
    const admin = await newPage();
    await signInToConsole(admin.page, server, 'root-keys', adminPassword);
    const keys = admin.page.locator('#keys-list li.key');
    await keys.first().waitFor();
    expect(await keys.count()).to.equal(1);
    const [firstKey] = await keys.evaluateAll((nodes) => nodes.map((n) => (n as HTMLElement).dataset.keyId));
    expect(await admin.page.locator('#keys-list').textContent()).to.not.contain(server.secret);

    for (const viewport of [{ width: 1280, height: 800 }, { width: 390, height: 844 }]) {
      await admin.page.setViewportSize(viewport);
      // the default grace is an hour, and the confirmation says what it means; cancel changes nothing
      expect(await admin.page.locator('#rotate-grace').inputValue()).to.equal('3600');
      await admin.page.click('#rotate-generate');
      await admin.page.click('#rotate-btn');
      await admin.page.locator('#rotate-confirm').waitFor({ state: 'visible' });
      expect(await admin.page.locator('#rotate-consequence').textContent()).to.contain('keep working for 1 hour');
      await screenshot(admin.page, `e2e-admin-rotate-confirm-${viewport.width}`);
      await admin.page.click('#rotate-cancel-btn');
      await admin.page.locator('#rotate-confirm').waitFor({ state: 'hidden' });
    }
    expect(await keys.count()).to.equal(1);

    await admin.page.setViewportSize({ width: 1280, height: 800 });
    await admin.page.click('#rotate-btn');
    await admin.page.click('#rotate-confirm-btn');
    await admin.page.locator('#rotate-result[data-status="ok"]').waitFor({ state: 'attached' });
    await admin.page.locator('#keys-list li.key:nth-child(2)').waitFor();
    expect(await keys.evaluateAll((nodes) => nodes.map((n) => (n as HTMLElement).dataset.current))).to.deep.equal(['true', 'false']);
    expect(await keys.nth(1).getAttribute('data-key-id')).to.equal(firstKey);
    expect(await keys.nth(1).locator('.key-state').textContent()).to.match(/^valid until /);
    await screenshot(admin.page, 'e2e-admin-keys');
    // the app server's token, signed with the old key, still works within the grace
    expect((await app.get('/control/search/online')).status).to.equal(200);
  });
});

/** Waits until the locator's text equals `expected` (polls the page; fails with the last text seen). */
async function hasText(locator: Locator, expected: string, timeout = 10_000): Promise<void> {
  const deadline = Date.now() + timeout;
  let last: string | null = null;
  for (;;) {
    last = await locator.first().textContent({ timeout: Math.max(1, deadline - Date.now()) }).catch(() => null);
    if (last === expected) return;
    if (Date.now() >= deadline) {
      throw new Error(`expected ${locator} to have text ${JSON.stringify(expected)}, last seen ${JSON.stringify(last)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
