/**
 * t-73: writing and handling mail in the webmail, in a real browser (Chromium through
 * playwright-core) against a real correio (in this process, real sockets): alice writes to
 * bob with an attachment (the draft saved while she types), bob reads it and downloads the
 * attachment; rich text goes out as HTML beside its plain text (a rich draft reopens as rich text); a message sent over SMTP appears in bob's open page without a reload; a flag
 * set over IMAP (imapflow) shows in the browser and one set in the browser shows over IMAP;
 * keyboard shortcuts (j/k, e, #, /, r) and server-side search with highlighted matches; a
 * phone-sized screen shows one pane at a time. Skips when /usr/bin/chromium is absent.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { ImapFlow } from 'imapflow';
import type { Browser, Page } from 'playwright-core';
import { browserSkip, launchChromium, scenario } from '../helpers/browser.js';
import { sendMail, startSite, waitFor, type Site } from '../helpers/site.js';

let site: Site;
let base: string;
let imapPort: number;
let browser: Browser;
const using = ['urn:ietf:params:jmap:core', 'urn:ietf:params:jmap:mail'];

const note = (subject: string, text: string): string => `From: pascal@example.net\nTo: alice@example.org\nSubject: ${subject}\n\n${text}\n`;

before(async () => {
  if (browserSkip) return;
  site = await startSite({
    domains: ['example.org'],
    users: ['alice@example.org', 'bob@example.org', 'carol@example.org'],
    tables: '[http]\nlisten = ["127.0.0.1:0"]\n[imap]\nlisten = ["127.0.0.1:0"]\n',
  });
  base = `http://127.0.0.1:${site.app!.httpAddresses()[0].port}`;
  imapPort = site.app!.imapAddresses()[0].port;
  for (const [i, subject] of ['first note', 'second note', 'third note'].entries()) {
    const r = await sendMail(site, 'pascal@example.net', ['alice@example.org'], note(subject, `the ${subject} about the estacao budget`));
    assert.match(String(r.final), /^250/);
    await site.waitForMessages('alice@example.org', i + 1);
    await new Promise((r) => setTimeout(r, 20)); // distinct arrival times: a known order, newest first
  }
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await site?.destroy();
});

async function login(page: Page, address: string): Promise<void> {
  await page.goto(`${base}/`);
  await page.fill('input[name=address]', address);
  await page.fill('input[name=password]', 'secret');
  await page.click('#login button[type=submit]');
  await page.waitForSelector('.folders button[data-role=inbox]');
}

/** JMAP over HTTP Basic, as a script would: one method call's answer. */
/** Opens the compose form (key "c") and fills its fields. */
async function compose(page: Page, m: { to: string; cc: string; subject: string; text: string }): Promise<void> {
  await page.keyboard.press('c');
  await page.fill('#compose input[name=to]', m.to);
  await page.fill('#compose input[name=cc]', m.cc);
  await page.fill('#compose input[name=subject]', m.subject);
  await page.fill('#compose textarea[name=text]', m.text);
}

async function jmap(user: string, name: string, args: Record<string, unknown>): Promise<Record<string, unknown>> {
  const auth = `Basic ${Buffer.from(`${user}:secret`).toString('base64')}`;
  const session = (await (await fetch(`${base}/jmap/session`, { headers: { Authorization: auth } })).json()) as { primaryAccounts: Record<string, string> };
  const accountId = session.primaryAccounts['urn:ietf:params:jmap:mail'];
  const res = await fetch(`${base}/jmap/api`, { method: 'POST', headers: { Authorization: auth, 'Content-Type': 'application/json' }, body: JSON.stringify({ using, methodCalls: [[name, { accountId, ...args }, 'x']] }) });
  const body = (await res.json()) as { methodResponses: [string, Record<string, unknown>, string][] };
  return body.methodResponses[0][1];
}

/** Subjects of the Emails in the mailbox with this role. */
async function subjectsIn(user: string, role: string): Promise<string[]> {
  const boxes = (await jmap(user, 'Mailbox/get', { ids: null, properties: ['role'] })).list as { id: string; role: string | null }[];
  const box = boxes.find((b) => b.role === role)!;
  const ids = (await jmap(user, 'Email/query', { filter: { inMailbox: box.id } })).ids as string[];
  if (ids.length === 0) return [];
  return ((await jmap(user, 'Email/get', { ids, properties: ['subject'] })).list as { subject: string }[]).map((e) => e.subject).sort();
}

async function withImap<T>(user: string, fn: (imap: ImapFlow) => Promise<T>): Promise<T> {
  const imap = new ImapFlow({ host: '127.0.0.1', port: imapPort, secure: false, tls: { rejectUnauthorized: false }, auth: { user, pass: 'secret' }, logger: false });
  await imap.connect();
  try {
    const lock = await imap.getMailboxLock('INBOX');
    try {
      return await fn(imap);
    } finally {
      lock.release();
    }
  } finally {
    await imap.logout();
  }
}

void test('t-73: compose with an attachment to a second user, who reads it; SMTP mail appears live', { skip: browserSkip }, async (t) => {
  await scenario(t, browser, 't-73-compose', async (page) => {
    await login(page, 'alice@example.org');
    await compose(page, { to: 'bob@example.org', cc: 'carol@example.org', subject: 'Planilha de janeiro', text: 'Bob, segue a planilha.' });
    await page.setInputFiles('#compose input[name=attachment]', { name: 'dados.csv', mimeType: 'text/csv', buffer: Buffer.from('mes,valor\njaneiro,42\n') });
    await page.waitForSelector('#compose .attachments li:has-text("dados.csv")');
    // saved as a draft while typing
    await page.waitForSelector('#compose .saved:has-text("draft saved")');
    assert.deepEqual(await subjectsIn('alice@example.org', 'drafts'), ['Planilha de janeiro']);
    await page.click('#compose button[type=submit]');
    await page.waitForSelector('#status:has-text("sent to bob@example.org, carol@example.org")');
    assert.equal(await page.locator('#compose').count(), 0);
    await waitFor('the message in Sent, no draft left', async () => (await subjectsIn('alice@example.org', 'sent')).length === 1 && (await subjectsIn('alice@example.org', 'drafts')).length === 0);
    // Sent lists whom it went to
    await page.click('.folders button[data-role=sent]');
    await page.waitForSelector('#messages li:has-text("Planilha de janeiro") .from:text-is("To: bob@example.org")');

    // a draft left for later is taken up again from Drafts, and saved over itself
    await page.keyboard.press('c');
    await page.fill('#compose input[name=to]', 'bob@example.org');
    await page.fill('#compose input[name=subject]', 'Rascunho');
    await page.fill('#compose textarea[name=text]', 'primeira parte');
    await page.waitForSelector('#compose .saved:has-text("draft saved")');
    await page.click('#compose button.close');
    await page.click('.folders button[data-role=drafts]');
    await page.click('#messages li:has-text("Rascunho")');
    await page.click('button[data-action=edit]');
    assert.equal(await page.inputValue('#compose input[name=to]'), 'bob@example.org');
    assert.match(await page.inputValue('#compose textarea[name=text]'), /^primeira parte/);
    await page.fill('#compose textarea[name=text]', 'primeira parte, segunda parte');
    await page.waitForSelector('#compose .saved:has-text("draft saved")');
    assert.deepEqual(await subjectsIn('alice@example.org', 'drafts'), ['Rascunho']);
  });
  await site.waitForMessages('bob@example.org', 1);
  await scenario(t, browser, 't-73-read-as-bob', async (page) => {
    await login(page, 'bob@example.org');
    await page.click('#messages li:has-text("Planilha de janeiro")');
    await page.frameLocator('iframe.body').locator('text=segue a planilha').waitFor();
    assert.match(await page.textContent('.reader .field-from') ?? '', /alice@example\.org/);
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('a.attachment:has-text("dados.csv")')]);
    assert.equal(download.suggestedFilename(), 'dados.csv');
    assert.equal(await readFile(await download.path(), 'utf8'), 'mes,valor\njaneiro,42\n');
    // reply to all: the author, and the other recipients but bob himself; forward: the attachment goes along
    await page.keyboard.press('a');
    assert.equal(await page.inputValue('#compose input[name=to]'), 'alice@example.org');
    assert.equal(await page.inputValue('#compose input[name=cc]'), 'carol@example.org');
    assert.equal(await page.inputValue('#compose input[name=subject]'), 'Re: Planilha de janeiro');
    await page.click('#compose button.close');
    await page.waitForSelector('#compose', { state: 'detached' });
    await page.keyboard.press('f');
    assert.equal(await page.inputValue('#compose input[name=subject]'), 'Fwd: Planilha de janeiro');
    await page.waitForSelector('#compose .attachments li:has-text("dados.csv")');
    await page.click('#compose button.close');
    await page.waitForSelector('#compose', { state: 'detached' });

    // new mail shows without a reload (JMAP push)
    const r = await sendMail(site, 'carol@example.net', ['bob@example.org'], 'From: carol@example.net\nSubject: arrived live\n\nhello\n');
    assert.match(String(r.final), /^250/);
    await page.waitForSelector('#messages li:has-text("arrived live")');
    await page.waitForSelector('.folders button[data-role=inbox] .unread:text-is("1")');
  });
});

void test('t-73: simple rich text is sent as HTML beside its plain text; a rich draft reopens as rich text', { skip: browserSkip }, async (t) => {
  await scenario(t, browser, 't-73-rich-text', async (page) => {
    await login(page, 'alice@example.org');
    await page.keyboard.press('c');
    await page.fill('#compose input[name=to]', 'carol@example.org');
    await page.fill('#compose input[name=subject]', 'Rico');
    await page.check('#compose input[name=rich]');
    await page.click('#compose .editor');
    await page.keyboard.type('normal ');
    await page.click('#compose .format button:has-text("B")');
    await page.keyboard.type('forte');
    // left as a draft and taken up again: still rich text, the bold still bold
    await page.waitForSelector('#compose .saved:has-text("draft saved")');
    await page.click('#compose button.close');
    await page.click('.folders button[data-role=drafts]');
    await page.click('#messages li:has-text("Rico")');
    await page.click('button[data-action=edit]');
    await page.waitForSelector('#compose .editor b:text-is("forte")');
    assert.equal(await page.isChecked('#compose input[name=rich]'), true);
    assert.equal(await page.locator('#compose .editor').innerHTML(), 'normal <b>forte</b>');
    await page.click('#compose button[type=submit]');
    await page.waitForSelector('#status:has-text("sent to carol@example.org")');
  });
  const message = await waitFor('"Rico" in carol\'s mailbox', async () => (await site.messages('carol@example.org')).find((m) => /^Subject: Rico$/m.test(m)));
  assert.match(message, /Content-Type: multipart\/alternative/i);
  // the parts as sent (base64 of UTF-8)
  const b64 = (text: string): string => Buffer.from(text).toString('base64');
  assert.ok(message.includes(`Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n${b64('normal forte')}\n`), message);
  assert.ok(message.includes(`Content-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: base64\n\n${b64('normal <b>forte</b>')}\n`), message);
});

void test('t-73: a flag set over IMAP shows in the browser; one set in the browser shows over IMAP', { skip: browserSkip }, async (t) => {
  await scenario(t, browser, 't-73-flags', async (page) => {
    await login(page, 'alice@example.org');
    await page.waitForSelector('#messages li:has-text("first note")');
    assert.equal(await page.locator('#messages li.flagged').count(), 0);
    // IMAP sequence 1 is the oldest: "first note"
    await withImap('alice@example.org', (imap) => imap.messageFlagsAdd('1', ['\\Flagged']));
    await page.waitForSelector('#messages li.flagged:has-text("first note")');

    await page.click('#messages li:has-text("second note")');
    await page.click('button[data-action=flag]');
    await page.waitForSelector('#messages li.flagged:has-text("second note")');
    const flags = await withImap('alice@example.org', async (imap) => {
      const out: string[] = [];
      for await (const m of imap.fetch('1:*', { flags: true, envelope: true })) if (m.flags?.has('\\Flagged')) out.push(m.envelope?.subject ?? '');
      return out.sort();
    });
    assert.deepEqual(flags, ['first note', 'second note']);
  });
});

void test('t-73: keyboard shortcuts j/k, e, #, /, r and search with highlighted matches', { skip: browserSkip }, async (t) => {
  await scenario(t, browser, 't-73-keyboard', async (page) => {
    await login(page, 'alice@example.org');
    await page.waitForSelector('#messages li:has-text("first note")');
    const reading = async (subject: string): Promise<void> => {
      await page.waitForSelector(`.reader h2.subject:text-is("${subject}")`);
    };
    await page.keyboard.press('j');
    await reading('third note');
    await page.keyboard.press('j');
    await reading('second note');
    await page.keyboard.press('k');
    await reading('third note');
    await page.keyboard.press('r');
    assert.equal(await page.inputValue('#compose input[name=subject]'), 'Re: third note');
    assert.equal(await page.inputValue('#compose input[name=to]'), 'pascal@example.net');
    await page.click('#compose button.close');
    await page.waitForSelector('#compose', { state: 'detached' });

    await page.keyboard.press('e');
    await page.waitForSelector('#status:has-text("moved to Archive")');
    await waitFor('third note in Archive', async () => (await subjectsIn('alice@example.org', 'archive')).includes('third note'));
    await reading('second note');
    await page.keyboard.press('#');
    await page.waitForSelector('#status:has-text("moved to Trash")');
    await waitFor('second note in Trash', async () => (await subjectsIn('alice@example.org', 'trash')).includes('second note'));
    await page.waitForSelector('#messages li:has-text("second note")', { state: 'detached' });

    await page.keyboard.press('/');
    await page.keyboard.type('budget');
    await page.keyboard.press('Enter');
    await page.waitForSelector('.list-head h2:text-is("Search: budget")');
    await page.waitForSelector('#messages li mark:text-is("budget")');
    // the search is everywhere: the archived and deleted notes are found too
    assert.equal(await page.locator('#messages li').count(), 3);
  });
});

void test('t-73: on a phone-sized screen the list and the message take the screen in turn', { skip: browserSkip }, async (t) => {
  await scenario(t, browser, 't-73-phone', async (page) => {
    await page.setViewportSize({ width: 390, height: 844 });
    await login(page, 'bob@example.org');
    await page.click('#messages li:has-text("Planilha de janeiro")');
    await page.frameLocator('iframe.body').locator('text=segue a planilha').waitFor();
    assert.equal(await page.isVisible('section.list'), false);
    const frame = await page.locator('iframe.body').boundingBox();
    assert.ok(frame && frame.width > 300 && frame.width <= 390, `the message uses the screen's width: ${JSON.stringify(frame)}`);
    await page.click('.reader button.back');
    await page.waitForSelector('section.list');
    assert.equal(await page.locator('.reader').count(), 0);
  });
});

void test('t-73: a display name with a comma is one address, when composed and in a reply to all', { skip: browserSkip }, async (t) => {
  // the old splitter cut on every comma: `"Doe` and `Bob" <bob@example.org>`, and the server refused `"Doe`
  await scenario(t, browser, 't-73-quoted-name', async (page) => {
    await login(page, 'alice@example.org');
    await compose(page, { to: '"Doe, Bob" <bob@example.org>', cc: '"Roe, Carol" <carol@example.org>', subject: 'Virgula', text: 'uma virgula no nome' });
    await page.click('#compose button[type=submit]');
    await page.waitForSelector('#status:has-text("sent to")');
  });
  const toBob = await waitFor('"Virgula" in bob\'s mailbox', async () => (await site.messages('bob@example.org')).find((m) => /^Subject: Virgula$/m.test(m)));
  assert.match(toBob, /^To: "Doe, Bob" <bob@example\.org>\r?$/m);
  assert.match(toBob, /^Cc: "Roe, Carol" <carol@example\.org>\r?$/m);
  const ids = (await jmap('bob@example.org', 'Email/query', { filter: { subject: 'Virgula' } })).ids as string[];
  const [got] = (await jmap('bob@example.org', 'Email/get', { ids, properties: ['to', 'cc'] })).list as { to: unknown; cc: unknown }[];
  assert.deepEqual(got, { id: ids[0], to: [{ name: 'Doe, Bob', email: 'bob@example.org' }], cc: [{ name: 'Roe, Carol', email: 'carol@example.org' }] });

  // bob answers all: carol stays one address with her quoted name (the old formatter wrote `Roe, Carol <carol@…>`)
  await scenario(t, browser, 't-73-quoted-name-reply-all', async (page) => {
    await login(page, 'bob@example.org');
    await page.click('#messages li:has-text("Virgula")');
    await page.frameLocator('iframe.body').locator('text=uma virgula no nome').waitFor();
    await page.keyboard.press('a');
    assert.equal(await page.inputValue('#compose input[name=to]'), 'alice@example.org');
    assert.equal(await page.inputValue('#compose input[name=cc]'), '"Roe, Carol" <carol@example.org>');
    await page.click('#compose button[type=submit]');
    await page.waitForSelector('#status:has-text("sent to")');
  });
  const toCarol = await waitFor('"Re: Virgula" in carol\'s mailbox', async () => (await site.messages('carol@example.org')).find((m) => /^Subject: Re: Virgula$/m.test(m)));
  assert.match(toCarol, /^To: alice@example\.org\r?$/m);
  assert.match(toCarol, /^Cc: "Roe, Carol" <carol@example\.org>\r?$/m);
});
