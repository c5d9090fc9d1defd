/**
 * t-71: the admin console in a real browser (Chromium through playwright-core) against a real
 * site: the SQLite directory, the files spool with mail put there by the real `correio
 * sendmail` (to a remote host whose port is closed, so it stays queued), the admin API and the
 * console's files served over a real socket, admins checked by password against the
 * directory. The admin logs in, sees the queued message, holds it (the CLI then sees it held),
 * releases and flushes it, reads its trace timeline; adds a user, an alias and a list member;
 * a non-admin is refused. Skips when /usr/bin/chromium is absent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { serve, type ServerType } from '@hono/node-server';
import { Hono, type MiddlewareHandler } from 'hono';
import type { Browser } from 'playwright-core';
import { loadConfig } from '../../src/config/index.js';
import { openDirectory } from '../../src/directory/index.js';
import { FsQueueStore, StoreQueueControl } from '../../src/queue/index.js';
import { makeResolver, runChecks } from '../../src/app/index.js';
import { ADMIN_API_BASE, adminApi, adminConsoleApp, uiModulesApp } from '../../src/web/index.js';
import { browserSkip, launchChromium, scenario } from '../helpers/browser.js';
import { makeSite, queueJson, type Site } from './queue-cli-harness.js';

const ADMIN = 'admin@example.org';
const ADMIN_PASSWORD = 'correct horse';

async function startWeb(site: Site): Promise<{ url: string; close(): Promise<void> }> {
  const config = loadConfig({ path: site.configFile });
  const directory = await openDirectory(config);
  const store = await FsQueueStore.open(join(site.dataDir, 'spool'), { recover: 'never', lock: false });
  // HTTP Basic against the directory; the admin scope for ADMIN only
  const authorize: MiddlewareHandler = async (c, next) => {
    const m = /^Basic (.+)$/.exec(c.req.header('authorization') ?? '');
    const [user, ...rest] = m ? Buffer.from(m[1], 'base64').toString('utf8').split(':') : [];
    if (!m || !(await directory.verifyPassword(user, rest.join(':')))) return c.json({ error: 'authentication required' }, 401);
    if (user !== ADMIN) return c.json({ error: 'admin scope required' }, 403);
    await next();
  };
  const api = adminApi({
    directory,
    queue: store,
    control: new StoreQueueControl(store),
    config: () => config,
    explain: async (a) => (await makeResolver(directory, config)).resolver.explain(a),
    checkConfig: () => runChecks({ config, directory }),
    authorize,
  });
  const app = new Hono().route(ADMIN_API_BASE, api).route('/admin', adminConsoleApp()).route('/ui', uiModulesApp());
  const server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s));
  });
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await store.close();
      await directory.close();
    },
  };
}

void test('t-71: the admin console drives the queue and the directory in Chromium', { skip: browserSkip }, async (t) => {
  const site = await makeSite();
  let browser: Browser | undefined;
  const web = await startWeb(site);
  try {
    for (const [user, pw] of [[ADMIN, ADMIN_PASSWORD], ['suzana@example.org', 'suzana-pw']]) {
      const r = await site.run(['user', 'add', user, '--password-stdin'], { stdin: `${pw}\n` });
      assert.equal(r.code, 0, r.stderr);
    }
    const sent = await site.run(['sendmail', '-f', 'suzana@example.org', 'bob@remote.test'], { stdin: 'Subject: stuck\n\nwaiting for bob\n' });
    assert.equal(sent.code, 0, sent.stderr);
    const [queued] = await queueJson(site);
    browser = await launchChromium();

    await scenario(t, browser, 't-71-non-admin', async (page) => {
      await page.goto(`${web.url}/admin`);
      await page.fill('input[name=address]', 'suzana@example.org');
      await page.fill('input[name=password]', 'suzana-pw');
      await page.click('#login button[type=submit]');
      await page.waitForSelector('#login-note:has-text("not an admin")');
    });

    await scenario(t, browser, 't-71-queue', async (page) => {
      const csp = (await page.goto(`${web.url}/admin`))?.headers()['content-security-policy'] ?? '';
      assert.match(csp, /script-src 'self'/);
      assert.doesNotMatch(csp, /unsafe-inline/);
      await page.fill('input[name=address]', ADMIN);
      await page.fill('input[name=password]', ADMIN_PASSWORD);
      await page.click('#login button[type=submit]');
      await page.waitForSelector('[data-figure=messages] .value:text-is("1")');

      await page.click('button[data-nav=queue]');
      await page.waitForSelector(`#queue-table >> text=${queued.id}`);
      assert.match(await page.textContent('#queue-table') ?? '', /bob@remote\.test/);
      await page.click(`button[data-action=hold][data-id="${queued.id}"]`);
      await page.waitForSelector(`#status:has-text("${queued.id}: hold applied to 1 envelope")`);
      await page.waitForSelector('#queue-table .state-held');
      assert.equal((await queueJson(site))[0].recipients[0].state, 'held'); // the CLI sees what the console did
      await page.click(`button[data-action=release][data-id="${queued.id}"]`);
      await page.waitForSelector(`#status:has-text("${queued.id}: release applied to 1 envelope")`);
      await page.click(`button[data-action=flush][data-id="${queued.id}"]`);
      await page.waitForSelector(`#status:has-text("${queued.id}: flush applied to 1 envelope")`);
      assert.equal((await queueJson(site))[0].recipients[0].held, false);

      await page.click(`a.trace-link:text-is("${queued.id}")`);
      await page.waitForSelector('#trace .step-received');
      const timeline = await page.textContent('#trace') ?? '';
      assert.match(timeline, /received from <suzana@example\.org>/);
      assert.match(timeline, /resolved: bob@remote\.test ⇒ smtp:/);
    });

    await scenario(t, browser, 't-71-directory', async (page) => {
      await page.goto(`${web.url}/admin`);
      await page.fill('input[name=address]', ADMIN);
      await page.fill('input[name=password]', ADMIN_PASSWORD);
      await page.click('#login button[type=submit]');
      await page.waitForSelector('#dashboard');
      await page.click('button[data-nav=users]');
      await page.fill('#add-user input[name=address]', 'jacques@example.org');
      await page.fill('#add-user input[name=password]', 'jacques-pw');
      await page.click('#add-user button[type=submit]');
      await page.waitForSelector('#status:has-text("added jacques@example.org")');
      await page.waitForSelector('#users-table >> text=jacques@example.org');
      // a refusal comes back in the CLI's words
      await page.fill('#add-user input[name=address]', 'no-domain@');
      await page.click('#add-user button[type=submit]');
      await page.waitForSelector('#status.error:has-text("invalid address")');

      await page.click('button[data-nav=aliases]');
      await page.fill('#set-alias input[name=name]', 'info');
      await page.fill('#set-alias input[name=targets]', 'jacques@example.org');
      await page.click('#set-alias button[type=submit]');
      await page.waitForSelector('#aliases-table >> text=info@example.org');

      await page.click('button[data-nav=lists]');
      await page.fill('#create-list input[name=address]', 'staff@example.org');
      await page.fill('#create-list input[name=owner]', ADMIN);
      await page.click('#create-list button[type=submit]');
      await page.waitForSelector('[data-list="staff@example.org"]');
      await page.fill('#add-members input[name=list]', 'staff@example.org');
      await page.fill('#add-members input[name=members]', 'jacques@example.org');
      await page.click('#add-members button[type=submit]');
      await page.waitForSelector('[data-list="staff@example.org"] li:has-text("jacques@example.org")');

      await page.click('button[data-nav=resolve]');
      await page.fill('#resolve-form input[name=q]', 'info@example.org');
      await page.click('#resolve-form button[type=submit]');
      await page.waitForSelector('ul.tree [data-kind=mailbox]');
    });
    // the directory changes made in the browser are the ones the CLI finds
    const resolved = await site.run(['resolve', 'staff@example.org', '--json']);
    assert.equal(resolved.code, 0, resolved.stderr);
    assert.match(resolved.stdout, /jacques@example\.org/);
    const jacques = await site.run(['user', 'list']);
    assert.match(jacques.stdout, /jacques@example\.org/);
  } finally {
    await browser?.close();
    await web.close();
    await site.cleanup();
  }
});
