/**
 * IntakeService over a real FsQueueStore and the real AliasResolver on an in-memory directory:
 * trace headers, hop and Delivered-To loop checks, submission headers, size, many-to-one,
 * 8-bit detection, and routes.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { MailError, replies, targetRoute, type Envelope, type SessionInfo, type Address } from '../core/index.js';
import { FsQueueStore } from '../queue/index.js';
import { AliasResolver } from '../resolve/index.js';
import { MemoryDirectory } from '../../test/helpers/memory-directory.js';
import { IntakeService } from './intake-service.js';

let dir: string;
let store: FsQueueStore;
let directory: MemoryDirectory;
let intake: IntakeService;
const queued: Envelope[] = [];

const mx: SessionInfo = { protocol: 'ESMTP', heloName: 'dsc.ufpb.br', remoteAddress: '192.0.2.7', mayRelay: false, submission: false };
const submission: SessionInfo = { ...mx, protocol: 'ESMTPSA', authUser: 'suzana@dc.uece.br', mayRelay: true, submission: true };
const addr = (s: string): Address => ({ local: s.slice(0, s.lastIndexOf('@')), domain: s.slice(s.lastIndexOf('@') + 1) });

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'correio-intake-'));
  store = await FsQueueStore.open(join(dir, 'spool'));
  directory = new MemoryDirectory({ domains: ['dc.uece.br'], users: ['suzana@dc.uece.br', 'pascal@dc.uece.br'] });
  await directory.setAlias('equipe@dc.uece.br', ['suzana@dc.uece.br', 'pascal@dc.uece.br']);
  await directory.setAlias('todos@dc.uece.br', ['suzana@dc.uece.br', 'equipe@dc.uece.br']);
  await directory.setAlias('fora@dc.uece.br', ['someone@far.example']);
  intake = new IntakeService({
    store,
    resolver: new AliasResolver({ directory }),
    hostname: 'dc.uece.br',
    clock: { now: () => Date.UTC(2026, 10, 26, 12, 0, 0) },
    maxMessageSize: 10_000,
    maxHops: 5,
    onQueued: (envs) => queued.push(...envs),
  });
});
after(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

type Submitted = { id: string; text: string; envs: Envelope[] };

async function submitAs(form: 'stream' | 'whole', session: SessionInfo, rcpts: string[], message: string): Promise<Submitted> {
  const recipients = [];
  for (const r of rcpts) recipients.push(await intake.checkRecipient(session, addr('helvecio@dsc.ufpb.br'), addr(r), {}));
  const before = queued.length;
  const body = form === 'whole' ? Buffer.from(message) : Readable.from([Buffer.from(message)]);
  const res = await intake.receive({ session, sender: addr('helvecio@dsc.ufpb.br'), mail: {}, recipients }, body);
  const chunks: Buffer[] = [];
  for await (const c of await store.openMessage(res.messageId)) chunks.push(c as Buffer);
  return { id: res.messageId, text: Buffer.concat(chunks).toString('utf8'), envs: queued.slice(before) };
}

/**
 * Submits the message twice: whole (a Buffer, as SMTP hands over a small DATA body) and as a
 * stream. Both must come out the same (queue ids, Message-IDs and envelope ids aside), or both
 * fail the same way; the streamed result is returned.
 */
async function submit(session: SessionInfo, rcpts: string[], message: string): Promise<Submitted> {
  const outcome = (p: Promise<Submitted>): Promise<Submitted | Error> => p.catch((err: unknown) => (err instanceof Error ? err : new Error(String(err))));
  const whole = await outcome(submitAs('whole', session, rcpts, message));
  const streamed = await outcome(submitAs('stream', session, rcpts, message));
  if (whole instanceof Error || streamed instanceof Error) {
    const text = (r: Submitted | Error): string => (r instanceof Error ? r.message : 'accepted');
    assert.equal(text(whole), text(streamed), 'whole and streamed fail alike');
    throw streamed;
  }
  const plain = (r: Submitted): string => r.text.replaceAll(r.id, 'ID').replace(/^(Message-ID: <)[^>]*/im, '$1x');
  assert.equal(plain(whole), plain(streamed));
  const envs = (r: Submitted): unknown => r.envs.map((e) => ({ ...e, id: undefined, messageId: undefined }));
  assert.deepEqual(envs(whole), envs(streamed));
  return streamed;
}

test('Received is prepended with HELO, address, protocol, queue id and recipient', async () => {
  const { id, text, envs } = await submit(mx, ['suzana@dc.uece.br'], 'Subject: a\r\n\r\nbody\r\n');
  assert.match(text, new RegExp(`^Received: from dsc\\.ufpb\\.br \\(.*\\[192\\.0\\.2\\.7\\]\\)\\r\\n\\tby dc\\.uece\\.br \\(correio\\) with ESMTP id ${id}\\r\\n\\tfor <suzana@dc\\.uece\\.br>;`));
  assert.match(text, /\r\nSubject: a\r\n\r\nbody\r\n$/);
  assert.equal(envs.length, 1);
  assert.deepEqual(envs[0].route, { transport: 'local', nextHop: 'suzana@dc.uece.br' });
  assert.equal(envs[0].size, Buffer.byteLength(text));
});

test('a message without a body (no empty line) is stored as given', async () => {
  const { text } = await submit(mx, ['suzana@dc.uece.br'], 'Subject: only headers\r\n');
  assert.match(text, /\r\nSubject: only headers\r\n$/);
});

test('many-to-one: two aliases reaching one mailbox make one envelope', async () => {
  const { envs } = await submit(mx, ['todos@dc.uece.br', 'suzana@dc.uece.br'], 'Subject: b\r\n\r\nx\r\n');
  const hops = envs.map((e) => e.route.nextHop).sort();
  assert.deepEqual(hops, ['pascal@dc.uece.br', 'suzana@dc.uece.br']);
});

test('too many Received fields: 554 5.4.6 and nothing stored', async () => {
  const before = queued.length;
  const received = 'Received: from a by b; Thu, 26 Nov 2026 12:00:00 +0000\r\n'.repeat(5);
  await assert.rejects(submit(mx, ['suzana@dc.uece.br'], `${received}Subject: loop\r\n\r\nx\r\n`), (err: unknown) => {
    assert.ok(err instanceof MailError);
    assert.equal(err.reply.code, 554);
    assert.equal(err.reply.status, '5.4.6');
    return true;
  });
  assert.equal(queued.length, before);
});

test('a Delivered-To naming the recipient is a loop for that recipient only', async () => {
  const { envs } = await submit(mx, ['suzana@dc.uece.br', 'pascal@dc.uece.br'], 'Delivered-To: suzana@dc.uece.br\r\nSubject: c\r\n\r\nx\r\n');
  const byHop = new Map(envs.map((e) => [e.route.transport, e]));
  assert.equal(byHop.get('error')?.route.nextHop, '554 5.4.6 Mail loop detected');
  assert.equal(byHop.get('local')?.route.nextHop, 'pascal@dc.uece.br');
});

test('forwarding to a remote address adds Delivered-To for the local name', async () => {
  const trusted = { ...mx, mayRelay: true };
  const { text, envs } = await submit(trusted, ['fora@dc.uece.br'], 'Subject: d\r\n\r\nx\r\n');
  assert.match(text, /\r\nDelivered-To: fora@dc\.uece\.br\r\n/);
  assert.deepEqual(envs[0].route, { transport: 'smtp', nextHop: 'far.example' });
});

test('submissions get Message-ID and Date when missing, and keep their own', async () => {
  const { text } = await submit(submission, ['pascal@dc.uece.br'], 'From: suzana@dc.uece.br\r\nSubject: e\r\n\r\nx\r\n');
  assert.match(text, /\r\nMessage-ID: <[^>]+@dc\.uece\.br>\r\n/);
  assert.match(text, /\r\nDate: Thu, 26 Nov 2026 12:00:00 \+0000\r\n/);
  const own = await submit(submission, ['pascal@dc.uece.br'], 'From: suzana@dc.uece.br\r\nMessage-ID: <mine@x>\r\nDate: Wed, 25 Nov 2026 10:00:00 +0000\r\n\r\nx\r\n');
  assert.equal((own.text.match(/^Message-ID:/gim) ?? []).length, 1);
  assert.equal((own.text.match(/^Date:/gim) ?? []).length, 1);
});

test('size is enforced while streaming: 552 5.3.4, draft discarded', async () => {
  const before = queued.length;
  await assert.rejects(submit(mx, ['suzana@dc.uece.br'], 'Subject: big\r\n\r\n' + 'y'.repeat(20_000) + '\r\n'), /552 5\.3\.4/);
  assert.equal(queued.length, before);
});

test('8-bit content marks the envelopes 8BITMIME', async () => {
  const { envs } = await submit(mx, ['suzana@dc.uece.br'], 'Subject: f\r\n\r\nCoração\r\n');
  assert.equal(envs[0].body, '8BITMIME');
  const seven = await submit(mx, ['suzana@dc.uece.br'], 'Subject: g\r\n\r\nplain\r\n');
  assert.equal(seven.envs[0].body, '7BIT');
});

test('unknown local user: 550 5.1.1 at RCPT', async () => {
  await assert.rejects(intake.checkRecipient(mx, null, addr('jacques@dc.uece.br'), {}), (err: unknown) => {
    assert.ok(err instanceof MailError);
    assert.equal(err.reply.code, 550);
    assert.equal(err.reply.status, '5.1.1');
    return true;
  });
});

test('a directory failure is 451, never "no such user"', async () => {
  directory.failing = true;
  try {
    await assert.rejects(intake.checkRecipient(mx, null, addr('suzana@dc.uece.br'), {}), (err: unknown) => {
      assert.ok(err instanceof MailError);
      assert.equal(err.reply.code, 451);
      return true;
    });
  } finally {
    directory.failing = false;
  }
});

test('targets map to routes: static routes stay structured, remote defaults to the MX of its domain', () => {
  assert.deepEqual(targetRoute({ kind: 'remote', address: addr('a@far.example') }), { transport: 'smtp', nextHop: 'far.example' });
  assert.deepEqual(
    targetRoute({ kind: 'remote', address: addr('a@far.example'), route: { transport: 'lmtp', nextHop: '[127.0.0.1]:24' } }),
    { transport: 'lmtp', nextHop: '[127.0.0.1]:24' },
  );
  assert.deepEqual(targetRoute({ kind: 'pipe', command: ['/bin/cat'] }), { transport: 'pipe', nextHop: '["/bin/cat"]' });
  assert.deepEqual(targetRoute({ kind: 'error', reply: replies.mailLoop() }), { transport: 'error', nextHop: '554 5.4.6 Mail loop detected' });
});

test('user+tag: delivered to user, the tag kept in the envelope recipient (Delivered-To)', async () => {
  const { envs } = await submit(mx, ['suzana+news@dc.uece.br'], 'Subject: t\r\n\r\nx\r\n');
  assert.equal(envs.length, 1);
  assert.deepEqual(envs[0].route, { transport: 'local', nextHop: 'suzana@dc.uece.br' });
  assert.deepEqual(envs[0].recipient, { local: 'suzana+news', domain: 'dc.uece.br' });
});

test('a first header line that is a continuation line is refused 554 5.6.0, whole or streamed, from any source', async () => {
  for (const session of [mx, submission]) {
    for (const first of [' X-Injected: yes', '\tX-Injected: yes']) {
      await assert.rejects(
        submit(session, ['suzana@dc.uece.br'], `${first}\r\nSubject: folded\r\n\r\nbody\r\n`),
        (err: unknown) => err instanceof MailError && err.reply.code === 554 && err.reply.status === '5.6.0',
        JSON.stringify(first),
      );
    }
  }
  // a continuation line after the first field is ordinary folding
  const ok = await submit(mx, ['suzana@dc.uece.br'], 'Subject: a\r\n folded subject\r\n\r\nbody\r\n');
  assert.match(ok.text, /\r\nSubject: a\r\n folded subject\r\n/);
});

test('the transaction\'s end-of-data check sees the header and its refusal stores nothing', async () => {
  const seen: { names: string[]; complete: boolean }[] = [];
  const rcpt = await intake.checkRecipient(mx, null, addr('suzana@dc.uece.br'), {});
  const before = queued.length;
  await assert.rejects(
    intake.receive(
      {
        session: mx, sender: null, mail: {}, recipients: [rcpt],
        checkHeader: async (h) => {
          seen.push({ names: h.fields.map((f) => f.name), complete: h.complete });
          return replies.senderNotOwned();
        },
      },
      Readable.from([Buffer.from('From: a@x.example\r\nSubject: s\r\n\r\nbody\r\n')]),
    ),
    /553 5\.7\.1/,
  );
  assert.deepEqual(seen, [{ names: ['from', 'subject'], complete: true }]);
  assert.equal(queued.length, before);
});
