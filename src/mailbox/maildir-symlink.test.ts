/**
 * Issue 12 item 9: Maildir never follows symbolic links. A new/ (or any mailbox directory) that
 * is a link refuses deliveries instead of writing outside the mailbox tree; a message file that
 * is a link is neither listed nor served (over POP3 too).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { MailError, type DeliveryRequest, type Envelope } from '../core/index.js';
import { MaildirTransport } from '../transport/index.js';
import { login, startHarness, USER } from '../../test/e2e/pop3-harness.js';
import { MaildirStore } from './index.js';

const msg = 'From: helvecio@dsc.ufpb.br\r\nSubject: hi\r\n\r\nOi!\r\n';
const SECRET = 'root-only secret\n';

async function withTmp(fn: (tmp: string) => Promise<void>): Promise<void> {
  const tmp = await mkdtemp(join(tmpdir(), 'correio-maildir-link-'));
  try {
    await fn(tmp);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

const unsafe = (err: unknown): boolean => err instanceof MailError && err.code === 'MAIL_ERR_UNSAFE_MAILBOX' && /symbolic link/.test(err.message);

void test('maildir: a new/ that is a symbolic link refuses delivery; nothing is written outside', () =>
  withTmp(async (tmp) => {
    const root = join(tmp, 'mail');
    const outside = join(tmp, 'outside');
    await mkdir(outside);
    const box = join(root, 'dc.uece.br', 'suzana');
    for (const sub of ['tmp', 'cur']) await mkdir(join(box, sub), { recursive: true });
    await symlink(outside, join(box, 'new'));
    const store = new MaildirStore(root, { hostname: 'mx' });
    await assert.rejects(store.deliver('suzana@dc.uece.br', Readable.from([msg]), { uniqueKey: 'k1' }), unsafe);
    assert.deepEqual(await readdir(outside), []);
    // and reading the mailbox refuses too (a list through the link would show foreign files)
    await assert.rejects(store.list('suzana@dc.uece.br'), unsafe);
  }));

void test('maildir: a mailbox or domain directory that is a link is refused at every level', () =>
  withTmp(async (tmp) => {
    const root = join(tmp, 'mail');
    const outside = join(tmp, 'elsewhere');
    for (const sub of ['tmp', 'new', 'cur']) await mkdir(join(outside, sub), { recursive: true });
    await mkdir(join(root, 'dc.uece.br'), { recursive: true });
    await symlink(outside, join(root, 'dc.uece.br', 'ana'));
    await symlink(join(root, 'dc.uece.br'), join(root, 'example.org'));
    const store = new MaildirStore(root, { hostname: 'mx' });
    await assert.rejects(store.deliver('ana@dc.uece.br', Readable.from([msg]), { uniqueKey: 'k1' }), unsafe);
    await assert.rejects(store.deliver('bia@example.org', Readable.from([msg]), { uniqueKey: 'k2' }), unsafe);
    assert.deepEqual(await readdir(join(outside, 'new')), []);
    assert.deepEqual(await readdir(join(outside, 'tmp')), []);
    // a normal mailbox beside them still works
    await store.deliver('bia@dc.uece.br', Readable.from([msg]), { uniqueKey: 'k3' });
    assert.equal((await store.list('bia@dc.uece.br')).length, 1);
  }));

void test('maildir: a link put in place after deliveries (the walk remembered) is refused, at every level', () =>
  withTmp(async (tmp) => {
    const root = join(tmp, 'mail');
    const store = new MaildirStore(root, { hostname: 'mx' });
    const deliver = (user: string, key: string): Promise<unknown> => store.deliver(user, Readable.from([msg]), { uniqueKey: key });
    await deliver('suzana@dc.uece.br', 'k1');
    await deliver('suzana@dc.uece.br', 'k2');
    // new/ swapped for a link to a directory outside
    const box = join(root, 'dc.uece.br', 'suzana');
    const outside = join(tmp, 'outside');
    await mkdir(outside);
    await rename(join(box, 'new'), join(tmp, 'old-new'));
    await symlink(outside, join(box, 'new'));
    await assert.rejects(deliver('suzana@dc.uece.br', 'k3'), unsafe);
    assert.deepEqual(await readdir(outside), []);
    // the domain directory swapped for a link to another tree with the same Maildir layout
    await deliver('ana@example.org', 'k4');
    const other = join(tmp, 'other-domain');
    for (const sub of ['tmp', 'new', 'cur']) await mkdir(join(other, 'ana', sub), { recursive: true });
    await rename(join(root, 'example.org'), join(tmp, 'old-domain'));
    await symlink(other, join(root, 'example.org'));
    await assert.rejects(deliver('ana@example.org', 'k5'), unsafe);
    assert.deepEqual(await readdir(join(other, 'ana', 'new')), []);
    assert.deepEqual(await readdir(join(other, 'ana', 'tmp')), []);
    // and the reading side (its walks remembered by the list before) refuses too
    await rm(join(root, 'example.org'));
    await rename(join(tmp, 'old-domain'), join(root, 'example.org'));
    assert.equal((await store.list('ana@example.org')).length, 1);
    await rename(join(root, 'example.org'), join(tmp, 'old-domain'));
    await symlink(other, join(root, 'example.org'));
    await assert.rejects(store.list('ana@example.org'), unsafe);
  }));

function envelope(user: string): Envelope {
  const [local, domain] = user.split('@');
  return {
    id: 'e1', messageId: 'm1', sender: { local: 'helvecio', domain: 'dsc.ufpb.br' }, recipient: { local, domain },
    route: { transport: 'local', nextHop: user }, arrivedAt: 0, size: msg.length, attempts: [], nextAttemptAt: 0, dsn: {},
  };
}

void test('maildir transport: a symlinked new/ defers the delivery (4.3.0) and the log names the path', () =>
  withTmp(async (tmp) => {
    const root = join(tmp, 'mail');
    const box = join(root, 'dc.uece.br', 'suzana');
    await mkdir(join(tmp, 'outside'));
    for (const sub of ['tmp', 'cur']) await mkdir(join(box, sub), { recursive: true });
    await symlink(join(tmp, 'outside'), join(box, 'new'));
    const env = envelope('suzana@dc.uece.br');
    const req: DeliveryRequest = { route: env.route, messageId: 'm1', sender: env.sender, envelopes: [env], size: msg.length, openMessage: async () => Readable.from([msg]) };
    const [r] = await new MaildirTransport({ mailboxes: new MaildirStore(root, { hostname: 'mx' }) }).deliver(req, new AbortController().signal);
    assert.equal(r.action, 'delayed');
    assert.equal(r.status, '4.3.0');
    assert.match(r.error ?? '', /new is a symbolic link: refused/);
    assert.deepEqual(await readdir(join(tmp, 'outside')), []);
  }));

void test('maildir: a message file that is a link is not listed, opened or served over POP3', async () => {
  const h = await startHarness({}, (dir) => new MaildirStore(join(dir, 'mail'), { hostname: 'mx' }));
  try {
    const store = new MaildirStore(join(h.dir, 'mail'), { hostname: 'mx' });
    const { key } = await store.deliver(USER, Readable.from([msg]), { uniqueKey: 'real' });
    const secret = join(h.dir, 'secret');
    await writeFile(secret, SECRET, { mode: 0o600 });
    const box = join(h.dir, 'mail', 'dc.uece.br', 'suzana');
    // names as correio writes them, and the Maildir spec's "<seconds>.…" form with sizes
    await symlink(secret, join(box, 'new', 'evil.mx,S=17,W=18'));
    await symlink(secret, join(box, 'cur', '1700000000.evil2.mx,S=17,W=18:2,S'));
    assert.deepEqual((await store.list(USER)).map((m) => m.key), [key]);
    await assert.rejects(store.open(USER, 'evil.mx,S=17,W=18'), (err: NodeJS.ErrnoException) => err.code === 'ELOOP');

    const c = await h.connect();
    assert.match((await login(c)) ?? '', /^\+OK/);
    c.write('STAT\r\n');
    assert.match((await c.readLine()) ?? '', /^\+OK 1 /);
    c.write('RETR 2\r\n');
    assert.match((await c.readLine()) ?? '', /^-ERR/);
    c.write('RETR 1\r\n');
    const lines: string[] = [];
    for (let i = 0; i < 20; i++) {
      const l = await c.readLine();
      if (l === undefined || l === '.') break;
      lines.push(l);
    }
    assert.ok(lines.join('\n').includes('Oi!'));
    assert.ok(!lines.join('\n').includes('secret'));
    c.write('QUIT\r\n');
  } finally {
    await h.cleanup();
  }
});
