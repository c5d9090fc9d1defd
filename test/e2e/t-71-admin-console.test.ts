/**
 * t-71: the admin console in a real browser (Chromium through playwright-core) against a real
 * `correio serve` ([http] listen, [http] admins): mail put in by the real `correio sendmail`
 * to a remote host whose port is closed, so the server defers it and keeps it queued. The admin logs in, sees the queued message, holds it (the CLI then sees it held),
 * releases and flushes it, reads its trace timeline; adds a user, an alias and a list member;
 * a non-admin is refused. Skips when /usr/bin/chromium is absent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { freePort } from '../helpers/net.js';
import { browserSkip, launchChromium, scenario } from '../helpers/browser.js';
import { makeSite, queueJson, waitSpool } from './queue-cli-harness.js';

const ADMIN = 'admin@example.org';
const ADMIN_PASSWORD = 'correct horse';

void test('t-71: the admin console drives the queue and the directory in Chromium', { skip: browserSkip }, async (t) => {
  const httpPort = await freePort();
  const site = await makeSite(`[http]\nlisten = ["127.0.0.1:${httpPort}"]\nadmins = ["${ADMIN}"]\n`);
  const web = { url: `http://127.0.0.1:${httpPort}` };
  let browser: Browser | undefined;
  try {
    for (const [user, pw] of [[ADMIN, ADMIN_PASSWORD], ['suzana@example.org', 'suzana-pw']]) {
      const r = await site.run(['user', 'add', user, '--password-stdin'], { stdin: `${pw}\n` });
      assert.equal(r.code, 0, r.stderr);
    }
    const sent = await site.run(['sendmail', '-f', 'suzana@example.org', 'bob@remote.test'], { stdin: 'Subject: stuck\n\nwaiting for bob\n' });
    assert.equal(sent.code, 0, sent.stderr);
    await site.serve();
    // the server tries bob's host (a closed port) once: the message is then deferred
    await waitSpool(site, 'a first attempt', (envs) => envs.length === 1 && envs[0].attempts.length >= 1);
    const [queued] = await queueJson(site);
    browser = await launchChromium();

    await scenario(t, browser, 't-71-non-admin', async (page) => {
      await page.goto(`${web.url}/admin`);
      await page.fill('input[name=address]', 'suzana@example.org');
      await page.fill('input[name=password]', 'suzana-pw');
      await page.click('#login button[type=submit]');
      await page.waitForSelector(`#login-note:has-text("not an admin: the server's operator lists it in [http] admins (correio.toml), then runs correio reload")`);
    });

    await scenario(t, browser, 't-71-queue', async (page) => {
      const csp = (await page.goto(`${web.url}/admin`))?.headers()['content-security-policy'] ?? '';
      assert.match(csp, /script-src 'self'/);
      assert.doesNotMatch(csp, /unsafe-inline/);
      await page.fill('input[name=address]', ADMIN);
      await page.fill('input[name=password]', ADMIN_PASSWORD);
      await page.click('#login button[type=submit]');
      await page.waitForSelector('[data-figure=messages] .value:text-is("1")');
      // the dashboard's charts: the server's deferral of bob's copy is in the last hour's
      // activity, and the queue's recipients by state are drawn as bars
      await page.waitForSelector('#activity li[data-series=deferred]');
      assert.ok(Number(await page.getAttribute('#activity li[data-series=deferred]', 'data-total')) >= 1);
      assert.equal(await page.locator('#activity polyline').count(), 4);
      const bars = await page.locator('#queue-states rect.bar').evaluateAll((els) => els.map((e) => `${e.getAttribute('data-state')}=${e.getAttribute('data-count')}`));
      assert.ok(bars.some((b) => /^(deferred|queued|active)=1$/.test(b)), bars.join(' '));

      await page.click('button[data-nav=queue]');
      await page.waitForSelector(`#queue-table >> text=${queued.id}`);
      assert.match(await page.textContent('#queue-table') ?? '', /bob@remote\.test/);
      await page.click(`button[data-action=hold][data-id="${queued.id}"]`);
      await page.waitForSelector(`#status:has-text("${queued.id}: hold applied to 1 envelope")`);
      await page.waitForSelector('#queue-table .state-held');
      // the server's queue runner did it: the CLI, asking the spool, sees it held
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
    await site.cleanup();
  }
});
