/**
 * The sender ownership rules on authenticated submission (RFC 6409 §6.1), as intake applies
 * them: MAIL FROM and every From header address must be the AUTH user's own. The rules are the
 * policy's (policy/sender-rules.ts); intake runs them through the transaction's checkHeader, as
 * an SMTP session hands them over.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { IntakeService } from './intake-service.js';
import { SenderRules, fromAddresses } from '../policy/index.js';
import { FsQueueStore } from '../queue/index.js';
import { AliasResolver } from '../resolve/index.js';
import { MailError, addressToString, systemClock, type Address, type ReversePath, type SessionInfo } from '../core/index.js';
import { MemoryDirectory } from '../../test/helpers/memory-directory.js';

let dir: string;
let store: FsQueueStore;
let intake: IntakeService;
// u1 owns u1@localhost and sales@localhost
const rules = new SenderRules({
  mayUse: async (user, a) => user === 'u1@localhost' && ['u1@localhost', 'sales@localhost'].includes(`${a.local}@${a.domain}`.toLowerCase()),
});
/** MAIL FROM as an SMTP session checks it: the policy's sender rules, then intake's own */
async function checkSender(session: SessionInfo, sender: ReversePath): Promise<void> {
  const refusal = await rules.envelope(session, sender);
  if (refusal) throw new MailError(refusal);
  await intake.checkSender(session, sender, {});
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'correio-intake-test-'));
  store = await FsQueueStore.open(join(dir, 'spool'));
  const directory = new MemoryDirectory({ domains: ['localhost'], users: ['u1@localhost', 'u2@localhost'] });
  intake = new IntakeService({
    store,
    resolver: new AliasResolver({ directory }),
    hostname: 'mx.localhost',
    clock: systemClock,
    maxMessageSize: 1 << 20,
    maxHops: 50,
  });
});
after(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

const u1: Address = { local: 'u1', domain: 'localhost' };
const submitted: SessionInfo = { protocol: 'ESMTPSA', authUser: 'u1@localhost', mayRelay: true, submission: true, remoteAddress: '127.0.0.1' };

async function send(session: SessionInfo, header: string): Promise<string> {
  const rcpt = await intake.checkRecipient(session, u1, { local: 'u2', domain: 'localhost' }, {});
  try {
    const r = await intake.receive(
      { session, sender: u1, mail: {}, recipients: [rcpt], checkHeader: (h) => rules.header(session, u1, h) },
      Readable.from([Buffer.from(`${header}\r\nSubject: t\r\n\r\nbody\r\n`)]),
    );
    return `${r.reply.code}`;
  } catch (err) {
    if (err instanceof MailError) return `${err.reply.code} ${err.reply.status}`;
    throw err;
  }
}

test('From header on authenticated submission: every address must be the user\'s (RFC 6409 §6.1)', async () => {
  const table: [string, string][] = [
    ['From: u1@localhost', '250'],
    ['From: "U. One" <U1@LOCALHOST>', '250'],
    ['From: Sales <sales@localhost>, u1@localhost', '250'],
    ['From: =?utf-8?q?Jo=C3=A3o?= <u1@localhost>', '250'],
    ['From: u2@localhost', '553 5.7.1'],
    ['From: "u1@localhost" <u2@localhost>', '553 5.7.1'],
    ['From: u1@localhost <u2@localhost>', '553 5.7.1'],
    ['From: u1@localhost, u2@localhost', '553 5.7.1'],
    ['From: group: u2@localhost;', '553 5.7.1'],
    ['From: Undisclosed:;', '553 5.7.1'],
    ['From: not an address', '553 5.7.1'],
    ['From: u1@localhost\r\nFrom: u2@localhost', '553 5.7.1'],
    ['From: Boss\r\n <boss@other.example>', '553 5.7.1'],
    // no From: nothing to check here (RFC 6409 §8.1 leaves adding one to the server)
    ['To: u2@localhost', '250'],
  ];
  for (const [header, want] of table) assert.equal(await send(submitted, header), want, header);
});

test('From is not checked for the MX service, the sendmail face or its -bs dialogue', async () => {
  const mx: SessionInfo = { protocol: 'ESMTP', mayRelay: false, submission: false, remoteAddress: '127.0.0.9' };
  const sendmail: SessionInfo = { protocol: 'local', authUser: 'kamil', mayRelay: true, submission: true };
  const bs: SessionInfo = { protocol: 'ESMTP', authUser: 'kamil', mayRelay: true, submission: true };
  for (const s of [mx, sendmail, bs]) assert.equal(await send(s, 'From: u2@localhost'), '250', s.protocol);
  // and the MAIL FROM check follows the same rule
  await checkSender(bs, { local: 'anyone', domain: 'other.example' });
  await assert.rejects(checkSender(submitted, { local: 'u2', domain: 'localhost' }), /553 5\.7\.1/);
});

test('fromAddresses: mailbox-list and group members, undefined for what does not parse', () => {
  assert.deepEqual(fromAddresses('"A, B" <a@x.example>, c@Y.EXAMPLE'), [
    { local: 'a', domain: 'x.example' },
    { local: 'c', domain: 'y.example' },
  ]);
  assert.deepEqual(fromAddresses('team: d@z.example;'), [{ local: 'd', domain: 'z.example' }]);
  assert.deepEqual(fromAddresses('nobody'), [undefined]);
});

test('fromAddresses: an element that is not a proper mailbox counts as unparsable (no lenient sender)', () => {
  // addressparser alone would read one address out of each of these
  assert.ok(fromAddresses('a@x.example b@y.example').includes(undefined));
  assert.ok(fromAddresses('John Doe@x.example').includes(undefined));
  assert.ok(fromAddresses('evil@y.example <a@x.example>').includes(undefined));
  // proper forms stay clean
  const clean = (from: string): string[] => fromAddresses(from).map((a) => (a === undefined ? 'unparsable' : addressToString(a)));
  assert.deepEqual(clean('"John Doe" <a@x.example>'), ['a@x.example']);
  assert.deepEqual(clean('John Doe <a@x.example> (work), "a@b" <c@x.example>'), ['a@x.example', 'c@x.example']);
  assert.deepEqual(clean('"john doe"@x.example'), ['"john doe"@x.example']);
  assert.deepEqual(clean('team: d@z.example, e@z.example;'), ['d@z.example', 'e@z.example']);
});
