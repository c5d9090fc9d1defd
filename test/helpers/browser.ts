/**
 * @module test-browser
 * Debian's Chromium driven by playwright-core for the browser tests (t-7x), launched headless
 * with nothing that reaches the network on its own; tests skip with a message when
 * /usr/bin/chromium is absent (a user's fresh machine; `.ci/run` installs it). A failed
 * scenario leaves a screenshot under dist/test-output/.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { projectRoot } from './paths.js';

export const CHROMIUM = '/usr/bin/chromium';

/** false when Chromium is there, else why the browser tests skip. */
export const browserSkip: string | false = existsSync(CHROMIUM) ? false : `${CHROMIUM} is absent (apt-get install chromium)`;

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/**
 * Runs a scenario on a new page; on failure saves a screenshot as
 * dist/test-output/<name>.png and names it in the test's diagnostics, then rethrows.
 */
export async function scenario(t: TestContext, browser: Browser, name: string, fn: (page: Page) => Promise<void>): Promise<void> {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(30_000);
  try {
    await fn(page);
  } catch (err) {
    const dir = join(projectRoot, 'dist', 'test-output');
    await mkdir(dir, { recursive: true });
    const file = join(dir, `${name}.png`);
    await page.screenshot({ path: file, fullPage: true }).catch(() => undefined);
    t.diagnostic(`screenshot: ${file}`);
    throw err;
  } finally {
    await context.close();
  }
}
