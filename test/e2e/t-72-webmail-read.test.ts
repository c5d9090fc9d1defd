/**
 * t-72: the webmail in a real browser (Chromium through playwright-core) against a real
 * correio (in this process, real sockets): logging in (a wrong password is refused with the
 * server's sentence); reading a message delivered by SMTP before login (sanitised HTML in a
 * sandboxed frame, an inline cid: image shown, a remote image held back until "Show images",
 * an attachment downloaded with its octets); a hostile message (script, event handlers,
 * javascript: URLs, SVG, meta refresh, form, base, CSS fetches) runs nothing and fetches
 * nothing, and the page's CSP refuses inline script (its violation event is seen); a folder
 * of 300 messages is a virtual list (few rows rendered, scrolled end to end); a reply makes a conversation, listed once with its size and
 * shown whole in the reader. Skips when /usr/bin/chromium is absent.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdir, readFile, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { browserSkip, launchChromium, scenario } from '../helpers/browser.js';
import { sendMail, startSite, waitFor, type Site } from '../helpers/site.js';

let site: Site;
let base: string;
let browser: Browser;
/** a web server of the test's own, counting requests: a message's "remote" images and beacons */
let beacon: http.Server;
let beaconUrl: string;
const hits: string[] = [];

// a 1×1 PNG
const png = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');

function htmlMessage(): string {
  return [
    'From: "Pascal Ribeiro" <pascal@example.net>',
    'To: alice@example.org',
    'Subject: Relatorio com figura',
    'Date: Fri, 04 Dec 2026 10:00:00 +0000',
    'Message-ID: <report-1@example.net>',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="outer"',
    '',
    '--outer',
    'Content-Type: multipart/related; boundary="rel"',
    '',
    '--rel',
    'Content-Type: text/html; charset=utf-8',
    '',
    `<p>Segue o <b>relatorio</b> do mes.</p><p><img src="cid:logo@example.net" alt="logo"></p><p><img src="${beaconUrl}/pixel.png" alt="pixel"></p>`,
    '--rel',
    'Content-Type: image/png',
    'Content-ID: <logo@example.net>',
    'Content-Transfer-Encoding: base64',
    '',
    png.toString('base64'),
    '--rel--',
    '--outer',
    'Content-Type: text/csv; name="dados.csv"',
    'Content-Disposition: attachment; filename="dados.csv"',
    'Content-Transfer-Encoding: base64',
    '',
    Buffer.from('mes,valor\njaneiro,42\n').toString('base64'),
    '--outer--',
    '',
  ].join('\n');
}

function xssMessage(): string {
  const b = beaconUrl;
  const payload = [
    '<base href="' + b + '/base/">',
    '<meta http-equiv="refresh" content="0;url=javascript:parent.__xss=\'meta\'">',
    '<script>window.__xss="script"; parent.__xss="script"</script>',
    '<img src="x" onerror="parent.__xss=\'onerror\'">',
    '<a href="javascript:parent.__xss=\'js-url\'">click me</a>',
    '<svg onload="parent.__xss=\'svg\'"><script>parent.__xss="svg-script"</script></svg>',
    '<iframe src="javascript:parent.__xss=\'iframe\'"></iframe>',
    '<object data="data:text/html,<script>parent.__xss=\'object\'</script>"></object>',
    `<form action="${b}/form"><input name="q" value="1"><button>go</button></form>`,
    `<div style="background:url(${b}/css-attr)">styled</div>`,
    `<style>body{background:url(${b}/css-sheet)}</style>`,
    '<img src="data:image/svg+xml,%3Csvg onload=%22parent.__xss=1%22/%3E">',
    '<p>xss marker text</p>',
    // last: broken markup that swallows the rest (mutation XSS)
    '<math><mtext><table><mglyph><style><img src=x onerror="parent.__xss=\'mxss\'">',
  ].join('\n');
  return ['From: mallory@example.net', 'To: alice@example.org', 'Subject: hostile', 'MIME-Version: 1.0', 'Content-Type: text/html; charset=utf-8', '', payload, ''].join('\n');
}

before(async () => {
  if (browserSkip) return;
  beacon = http.createServer((req, res) => {
    hits.push(req.url ?? '');
    res.writeHead(200, { 'Content-Type': 'image/png' }).end(png);
  });
  await new Promise<void>((resolve) => beacon.listen(0, '127.0.0.1', resolve));
  beaconUrl = `http://127.0.0.1:${(beacon.address() as { port: number }).port}`;
  site = await startSite({
    domains: ['example.org'],
    users: ['alice@example.org', 'bob@example.org'],
    // alice may read the CSP reports (GET /api/csp-report is for admins)
    tables: '[http]\nlisten = ["127.0.0.1:0"]\nadmins = ["alice@example.org"]\n',
  });
  base = `http://127.0.0.1:${site.app!.httpAddresses()[0].port}`;
  for (const m of [htmlMessage(), xssMessage()]) {
    const r = await sendMail(site, 'pascal@example.net', ['alice@example.org'], m);
    assert.match(String(r.final), /^250/);
  }
  await site.waitForMessages('alice@example.org', 2);
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await site?.destroy();
  beacon?.close();
});

async function login(page: Page, address = 'alice@example.org', password = 'secret'): Promise<void> {
  await page.goto(`${base}/`);
  await page.fill('input[name=address]', address);
  await page.fill('input[name=password]', password);
  await page.click('#login button[type=submit]');
}

/** Opens the message with this subject and waits for its frame to hold the body. */
async function openMessage(page: Page, subject: string, bodyText: string): Promise<void> {
  await page.click(`#messages li:has-text("${subject}")`);
  await page.frameLocator('iframe.body').locator(`text=${bodyText}`).waitFor();
}

void test('t-72: log in, a wrong password refused', { skip: browserSkip }, async (t) => {
  await scenario(t, browser, 't-72-login', async (page) => {
    const csp = (await page.goto(`${base}/`))?.headers()['content-security-policy'] ?? '';
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    await login(page, 'alice@example.org', 'wrong');
    await page.waitForSelector('#login-note:has-text("wrong address or password")');
    await page.fill('input[name=password]', 'secret');
    await page.click('#login button[type=submit]');
    await page.waitForSelector('.folders button[data-role=inbox] .unread:text-is("2")');
    await page.waitForSelector('#messages li:has-text("Relatorio com figura")');
    assert.equal(await page.locator('#messages li.unseen').count(), 2);
    assert.equal(await page.title(), '(2) Inbox — correio');
    // the browser session (an HttpOnly cookie) outlives a reload; logging out ends it
    const cookie = (await page.context().cookies()).find((c) => c.name === 'correio_session');
    assert.equal(cookie?.httpOnly, true);
    assert.equal(cookie?.sameSite, 'Strict');
    await page.reload();
    await page.waitForSelector('#messages li:has-text("Relatorio com figura")');
    await page.click('button:text-is("Log out")');
    await page.waitForSelector('#login');
    await page.reload();
    await page.waitForSelector('#login');
  });
});

void test('t-72: read a message: sanitised HTML, inline image, remote image on demand, attachment', { skip: browserSkip }, async (t) => {
  await scenario(t, browser, 't-72-read', async (page) => {
    await login(page);
    await openMessage(page, 'Relatorio com figura', 'relatorio');
    const frame = page.frameLocator('iframe.body');
    assert.equal(await page.getAttribute('iframe.body', 'sandbox'), 'allow-popups allow-popups-to-escape-sandbox');
    // the cid: image is shown (embedded by the server), the remote one held back
    assert.match(await frame.locator('img[alt=logo]').getAttribute('src') ?? '', /^data:image\/png;base64,/);
    assert.equal(await frame.locator('img[alt=pixel]').getAttribute('src'), null);
    assert.equal(hits.filter((h) => h === '/pixel.png').length, 0, 'the remote image was fetched before the user asked');
    await page.waitForSelector('.images-note:has-text("1 remote image is blocked")');
    // reading marks it read: the folder's unread count drops
    await page.waitForSelector('.folders button[data-role=inbox] .unread:text-is("1")');

    await page.click('button[data-action=show-images]');
    await frame.locator(`img[alt=pixel][src="${beaconUrl}/pixel.png"]`).waitFor();
    for (let i = 0; i < 100 && !hits.includes('/pixel.png'); i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(hits.includes('/pixel.png'), 'the remote image loads once asked for');

    const [download] = await Promise.all([page.waitForEvent('download'), page.click('a.attachment:has-text("dados.csv")')]);
    assert.equal(download.suggestedFilename(), 'dados.csv');
    assert.equal(await readFile(await download.path(), 'utf8'), 'mes,valor\njaneiro,42\n');
    // a reply quotes the HTML-only message as its text
    await page.keyboard.press('r');
    assert.match(await page.inputValue('#compose textarea[name=text]'), /^> Segue o relatorio do mes\.$/m);
  });
});

void test('t-72: a hostile message runs nothing, fetches nothing; the page CSP refuses inline script', { skip: browserSkip }, async (t) => {
  await scenario(t, browser, 't-72-xss', async (page) => {
    // (browser code as strings: the tests are compiled without the DOM library)
    await page.addInitScript({ content: "window.__csp = []; document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(e.effectiveDirective + ' ' + e.blockedURI));" });
    const before = hits.length;
    await login(page);
    await openMessage(page, 'hostile', 'xss marker text');
    const frame = page.frameLocator('iframe.body');
    await frame.locator('a:has-text("click me")').click().catch(() => undefined);
        // what the sanitiser let through: text, no active element, no handler, no javascript: URL
    const body = frame.locator('body');
    assert.equal(await body.locator('script, style, iframe, object, embed, svg, math, form, input, button, base, meta, link').count(), 0);
    // the frame's DOM as the browser serialises it
    const dom = await body.innerHTML();
    assert.match(dom, /xss marker text/);
    assert.doesNotMatch(dom, /\son[a-z]+=|\sstyle=|javascript:|data:image\/svg/i);
    assert.equal(await page.evaluate('window.__xss'), undefined);
    assert.equal(page.url(), `${base}/`, 'the page was not navigated');
    assert.deepEqual(hits.slice(before), [], 'the message fetched something');
    assert.deepEqual(await page.evaluate<string[]>('window.__csp'), []);

    // the second wall: the page's CSP refuses inline script, and says so
    await page.evaluate("const s = document.createElement('script'); s.textContent = 'window.__xss = 1'; document.body.append(s);");
    await page.waitForFunction('window.__csp.length > 0');
    assert.match((await page.evaluate<string[]>('window.__csp'))[0], /^script-src/);
    assert.equal(await page.evaluate('window.__xss'), undefined);
    // … and reports it to the server (report-uri /api/csp-report), where an admin reads it
    const reports = await waitFor('the CSP report', async () => {
      const res = await fetch(`${base}/api/csp-report`, { headers: { Authorization: `Basic ${Buffer.from('alice@example.org:secret').toString('base64')}` } });
      const list = (await res.json()) as { 'csp-report'?: Record<string, string> }[];
      return list.length > 0 && list;
    });
    assert.equal(reports.length, 1, JSON.stringify(reports));
    assert.match(reports[0]['csp-report']?.['violated-directive'] ?? '', /^script-src/);
    assert.equal(reports[0]['csp-report']?.['document-uri'], `${base}/`);
  });
});

void test('t-72: the frame endpoint gives each user their own mail only', { skip: browserSkip }, async () => {
  const basic = (user: string): string => `Basic ${Buffer.from(`${user}:secret`).toString('base64')}`;
  const session = (await (await fetch(`${base}/jmap/session`, { headers: { Authorization: basic('alice@example.org') } })).json()) as { primaryAccounts: Record<string, string> };
  const accountId = session.primaryAccounts['urn:ietf:params:jmap:mail'];
  const q = await fetch(`${base}/jmap/api`, {
    method: 'POST',
    headers: { Authorization: basic('alice@example.org'), 'Content-Type': 'application/json' },
    body: JSON.stringify({ using: ['urn:ietf:params:jmap:core', 'urn:ietf:params:jmap:mail'], methodCalls: [['Email/query', { accountId }, 'q']] }),
  });
  const ids = ((await q.json()) as { methodResponses: [string, { ids: string[] }, string][] }).methodResponses[0][1].ids;
  assert.equal(ids.length, 2);
  for (const id of ids) {
    const mine = await fetch(`${base}/webmail/api/frame/${id}`, { headers: { Authorization: basic('alice@example.org') } });
    assert.equal(mine.status, 200);
    // bob asks for alice's ids: not found, or (an id that names a message of his own) his own mail — never hers
    const theirs = await fetch(`${base}/webmail/api/frame/${id}`, { headers: { Authorization: basic('bob@example.org') } });
    const text = await theirs.text();
    assert.doesNotMatch(text, /relatorio|xss marker/, `bob read alice's ${id}`);
  }
  const anonymous = await fetch(`${base}/webmail/api/frame/${ids[0]}`);
  assert.equal(anonymous.status, 401);
});

void test('t-72: a folder of 300 messages is a virtual list: few rows rendered, scrolled end to end, j across pages', { skip: browserSkip }, async (t) => {
  // bob's Maildir filled directly (real files, as a delivery leaves them)
  const dir = join(site.dataDir, 'mail', 'example.org', 'bob', 'new');
  await mkdir(dir, { recursive: true });
  for (let i = 1; i <= 300; i++) {
    const when = 1_780_000_000 + i * 60;
    const file = join(dir, `${when}.M${i}P1.test`);
    await writeFile(file, `From: carol@example.net\nTo: bob@example.org\nSubject: numbered ${i}\nDate: ${new Date(when * 1000).toUTCString()}\n\nmessage ${i}\n`);
    await utimes(file, when, when); // the arrival time a Maildir keeps
  }
  await scenario(t, browser, 't-72-virtual-list', async (page) => {
    await page.setViewportSize({ width: 1200, height: 800 });
    await login(page, 'bob@example.org');
    await page.waitForSelector('.list-head .range:text-matches("of 300$")');
    assert.match(await page.textContent('.list-head .range') ?? '', /^1–\d+ of 300$/);
    await page.waitForSelector('#messages li:has-text("numbered 300")');
    // only the rows in view and a few around are in the page
    const rendered = await page.locator('#messages li').count();
    assert.ok(rendered > 5 && rendered < 50, `${rendered} rows rendered`);
    assert.match(await page.locator('#messages li').first().textContent() ?? '', /numbered 300/);
    // scrolled to the end: the oldest comes in (its page fetched then), the newest are gone
    await page.evaluate("document.querySelector('.list .scroller').scrollTop = 1e9");
    await page.waitForSelector('#messages li .subject:text-is("numbered 1")');
    await page.waitForSelector('.list-head .range:text-matches("of 300$")');
    assert.equal(await page.locator('#messages li:has-text("numbered 300")').count(), 0);
    assert.ok((await page.locator('#messages li').count()) < 50);
    // j from the last row of the first page (the 50th, "numbered 251") opens the first of the second
    await page.evaluate("document.querySelector('.list .scroller').scrollTop = 45 * 68");
    await page.click('#messages li:has-text("numbered 251")');
    await page.waitForSelector('.reader h2.subject:text-is("numbered 251")');
    await page.keyboard.press('j');
    await page.waitForSelector('.reader h2.subject:text-is("numbered 250")');
    await page.keyboard.press('k');
    await page.waitForSelector('.reader h2.subject:text-is("numbered 251")');
  });
});

void test('t-72: a conversation lists as one row with its size; the reader shows its messages and opens the other', { skip: browserSkip }, async (t) => {
  const reply = ['From: "Pascal Ribeiro" <pascal@example.net>', 'To: alice@example.org', 'Subject: Re: Relatorio com figura', 'Message-ID: <report-2@example.net>', 'In-Reply-To: <report-1@example.net>', 'References: <report-1@example.net>', '', 'a resposta ao relatorio', ''].join('\n');
  const r = await sendMail(site, 'pascal@example.net', ['alice@example.org'], reply);
  assert.match(String(r.final), /^250/);
  await site.waitForMessages('alice@example.org', 3);
  await scenario(t, browser, 't-72-conversation', async (page) => {
    await login(page);
    const row = page.locator('#messages li:has-text("Re: Relatorio com figura")');
    await row.locator('.count:text-is("2")').waitFor();
    // two conversations in the Inbox, of three messages
    await page.waitForSelector('.list-head .range:text-is("1–2 of 2")');
    assert.equal(await page.locator('#messages li:has-text("Relatorio com figura")').count(), 1);
    await openMessage(page, 'Re: Relatorio com figura', 'a resposta ao relatorio');
    const items = page.locator('.conversation li');
    await page.waitForSelector('.conversation li >> nth=1');
    assert.equal(await items.count(), 2);
    assert.equal(await items.nth(1).getAttribute('aria-current'), 'true', 'the newest is the one open');
    await items.nth(0).click();
    await page.waitForSelector('.reader h2.subject:text-is("Relatorio com figura")');
    await page.frameLocator('iframe.body').locator('text=relatorio').first().waitFor();
    assert.equal(await page.locator('.conversation li').nth(0).getAttribute('aria-current'), 'true');
  });
});
