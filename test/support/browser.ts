/**
 * A real headless browser for the status pages: Debian's chromium driven by playwright-core
 * (no browser download). Every console error, uncaught page error and failed request is
 * collected so that a test can assert there was none.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Flags for a closed network: no background connections, no sandbox as root. */
const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

export interface BrowserPage {
  browser: Browser;
  page: Page;
  /** Console errors, page errors and failed requests seen so far. */
  problems: string[];
  close(): Promise<void>;
}

export async function openBrowser(): Promise<BrowserPage> {
  if (!existsSync(CHROMIUM))
    throw new Error(`no chromium at ${CHROMIUM}: run npm test (scripts/setup.sh installs Debian's chromium) or set CHROMIUM_PATH`);
  // playwright gives every launch a new empty profile of its own
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => {
    const why = r.failure()?.errorText ?? '';
    // net::ERR_ABORTED is the browser cancelling a request itself: one still in flight when the
    // test navigates or reloads (the favicon of a loaded machine's slow page), or one the page's
    // own AbortController ends. A server that fails answers with another error or a status
    // (reported on the console).
    if (why !== 'net::ERR_ABORTED') problems.push(`request failed: ${r.url()} ${why}`);
  });
  return { browser, page, problems, close: () => browser.close() };
}

/**
 * The little of the DOM that functions run in the page use (this project's TypeScript has no DOM
 * library: those functions are typed against this and run in chromium).
 */
export interface PageElement {
  readonly dataset: Record<string, string | undefined>;
  readonly textContent: string | null;
  getAttribute(name: string): string | null;
  querySelector(selector: string): PageElement | null;
  querySelectorAll(selector: string): Iterable<PageElement> & { readonly length: number };
}
export interface PageDocument extends PageElement {
  readonly body: PageElement;
  getElementById(id: string): PageElement | null;
}
