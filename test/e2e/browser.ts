/**
 * Headless Chromium for the end-to-end tests (issue 6), driven by playwright-core with Debian's
 * `chromium` package (`.ci/run` installs it when missing).
 *
 * `watch(page)` records what must never happen on a page: Content-Security-Policy violations
 * (console messages and `securitypolicyviolation` events), uncaught page errors, and dialogs
 * (an `alert()` from an injected handler would show up here).
 */
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const OUTPUT_DIR = path.resolve('test-output');

export function launchBrowser(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM_PATH)) {
    throw new Error(`${CHROMIUM_PATH} is missing: install Debian's chromium package (apt-get install -y chromium)`);
  }
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

export interface PageProblems {
  csp: string[];
  pageErrors: string[];
  dialogs: string[];
}

export interface WatchedPage {
  page: Page;
  context: BrowserContext;
  problems: PageProblems;
}

/** A new context (its own cookies and storage: one user) with one watched page. */
export async function openPage(browser: Browser, options: { viewport?: { width: number; height: number } } = {}): Promise<WatchedPage> {
  const context = await browser.newContext({ viewport: options.viewport ?? { width: 1280, height: 800 } });
  context.setDefaultTimeout(10_000);
  const page = await context.newPage();
  return { page, context, problems: watch(page) };
}

export function watch(page: Page): PageProblems {
  const problems: PageProblems = { csp: [], pageErrors: [], dialogs: [] };
  page.on('console', (message) => {
    const text = message.text();
    if (process.env.E2E_CONSOLE) console.log(`      [console.${message.type()}] ${text}`);
    if (/Content[- ]Security[- ]Policy/i.test(text)) problems.csp.push(text);
  });
  page.on('pageerror', (error) => problems.pageErrors.push(String(error?.stack ?? error)));
  page.on('dialog', (dialog) => {
    problems.dialogs.push(`${dialog.type()}: ${dialog.message()}`);
    dialog.dismiss().catch(() => {});
  });
  // Init scripts are injected by the browser itself, so the page's CSP does not block this.
  void page.addInitScript(() => {
    const w = window as unknown as { __cspViolations: string[] };
    w.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (event) => {
      w.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`);
    });
  });
  return problems;
}

/** Everything recorded on the page, including the `securitypolicyviolation` events. */
export async function collectProblems(watched: WatchedPage): Promise<PageProblems> {
  const { page, problems } = watched;
  let events: string[] = [];
  if (!page.isClosed()) {
    events = await page
      .evaluate(() => (window as unknown as { __cspViolations?: string[] }).__cspViolations ?? [])
      .catch(() => []);
  }
  return { csp: [...problems.csp, ...events], pageErrors: [...problems.pageErrors], dialogs: [...problems.dialogs] };
}

/** Saves a full-page screenshot under test-output/ and prints its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  fs.mkdirSync(OUTPUT_DIR, { recursive: true });
  const file = path.join(OUTPUT_DIR, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  console.log(`      screenshot: ${path.relative(process.cwd(), file)}`);
  return file;
}
