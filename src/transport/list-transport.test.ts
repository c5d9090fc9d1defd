import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import {
  addressToString,
  MailError,
  replies,
  type AcceptedRecipient,
  type Address,
  type DeliveryRequest,
  type DsnParams,
  type Intake,
  type IntakeResult,
  type IntakeTransaction,
  type MailParams,
  type ReversePath,
  type SessionInfo,
} from '../core/index.js';
import { chunkedStream, testEnvelope } from '../../test/helpers/delivery-request.js';
import { MemoryDirectory } from '../../test/helpers/memory-directory.js';
import { AliasResolver } from '../resolve/index.js';
import { ListTransport, parseHeaderFields } from './list-transport.js';

/** An Intake that resolves through a real AliasResolver and records what it is given. */
class RecordingIntake implements Intake {
  senders: { session: SessionInfo; sender: ReversePath }[] = [];
  checked: string[] = [];
  received: { tx: IntakeTransaction; body: string }[] = [];
  refuse = new Map<string, MailError>();
  constructor(private readonly resolver: AliasResolver) {}
  async checkSender(session: SessionInfo, sender: ReversePath, _mail: MailParams): Promise<void> {
    this.senders.push({ session, sender });
  }
  async checkRecipient(session: SessionInfo, sender: ReversePath, rcpt: Address, dsn: DsnParams): Promise<AcceptedRecipient> {
    const a = addressToString(rcpt);
    this.checked.push(a);
    const refusal = this.refuse.get(a);
    if (refusal) throw refusal;
    const targets = await this.resolver.resolve(rcpt, { sender });
    return { address: rcpt, dsn, targets };
  }
  async receive(tx: IntakeTransaction, body: Readable | Buffer): Promise<IntakeResult> {
    const chunks: Buffer[] = [];
    for await (const c of Buffer.isBuffer(body) ? [body] : body) chunks.push(c as Buffer);
    this.received.push({ tx, body: Buffer.concat(chunks).toString('latin1') });
    return { messageId: `m${this.received.length}`, reply: replies.queued(`m${this.received.length}`) };
  }
}

const author: Address = { local: 'helvecio', domain: 'dsc.ufpb.br' };

function request(list: string, message: string, chunkSize = 7): DeliveryRequest {
  const env = testEnvelope({
    id: 'e1',
    messageId: 'm0',
    sender: author,
    recipient: { local: list.split('@')[0], domain: list.split('@')[1] },
    route: { transport: 'list', nextHop: list },
    size: message.length,
  });
  const bytes = Buffer.from(message, 'latin1');
  return {
    route: env.route,
    messageId: 'm0',
    sender: author,
    envelopes: [env],
    size: bytes.length,
    // small chunks: the blank line that ends the header falls across chunk boundaries
    openMessage: async () => chunkedStream(bytes, chunkSize),
  };
}

const message = 'From: Helvecio <helvecio@dsc.ufpb.br>\r\nSubject: reuniao\r\n  de departamento\r\nList-Id: <other.example.net>\r\n\r\nPauta:\r\nFrom the head\r\n';

async function setup(): Promise<{ dir: MemoryDirectory; intake: RecordingIntake; transport: ListTransport }> {
  const dir = new MemoryDirectory({ domains: ['dc.uece.br'], users: ['suzana@dc.uece.br', 'ana@dc.uece.br', 'bia@dc.uece.br'] });
  await dir.createList('lista@dc.uece.br', 'suzana@dc.uece.br', 'Lista do DC');
  await dir.addListMembers('lista@dc.uece.br', ['ana@dc.uece.br', 'carla@remote.example', 'lista@dc.uece.br', 'ANA@dc.uece.br']);
  const intake = new RecordingIntake(new AliasResolver({ directory: dir }));
  const transport = new ListTransport({ intake, directory: dir, unsubscribeUrl: (l) => (l.address.startsWith('lista') ? 'https://lists.dc.uece.br/u/lista' : undefined) });
  return { dir, intake, transport };
}

void test('list: re-injected once to the members with the owner as sender and List-* headers', async () => {
  const { intake, transport } = await setup();
  const res = await transport.deliver(request('lista@dc.uece.br', message), new AbortController().signal);
  assert.deepEqual(res.map((r) => [r.envelopeId, r.action, r.status]), [['e1', 'expanded', '2.0.0']]);
  assert.equal(res[0].reply?.code, 250);

  // Owner as envelope sender: bounces go to the owner, never to the author (RFC 5321 §3.9.2).
  assert.equal(intake.senders.length, 1);
  assert.equal(addressToString(intake.senders[0].sender!), 'lista-owner@dc.uece.br');
  assert.deepEqual(intake.senders[0].session, { protocol: 'internal', internal: true, mayRelay: true, submission: false });
  // self skipped, duplicate member skipped
  assert.deepEqual(intake.checked, ['ana@dc.uece.br', 'carla@remote.example']);

  assert.equal(intake.received.length, 1);
  const { tx, body } = intake.received[0];
  assert.equal(addressToString(tx.sender!), 'lista-owner@dc.uece.br');
  assert.deepEqual(tx.recipients.map((r) => addressToString(r.address)), ['ana@dc.uece.br', 'carla@remote.example']);
  assert.equal(tx.recipients[1].targets[0].kind, 'remote');

  const [head, rest] = body.split('\r\n\r\n');
  const fields = parseHeaderFields(head);
  const get = (n: string): string[] => fields.filter((f) => f.name === n).map((f) => f.value);
  assert.deepEqual(get('list-id'), ['Lista do DC <lista.dc.uece.br>']);
  assert.deepEqual(get('list-post'), ['<mailto:lista@dc.uece.br>']);
  assert.deepEqual(get('list-unsubscribe'), ['<https://lists.dc.uece.br/u/lista>, <mailto:lista-owner@dc.uece.br?subject=unsubscribe>']);
  assert.deepEqual(get('list-unsubscribe-post'), ['List-Unsubscribe=One-Click']);
  assert.deepEqual(get('x-loop'), ['lista@dc.uece.br']);
  assert.deepEqual(get('subject'), ['reuniao  de departamento']);
  assert.ok(head.includes('Subject: reuniao\r\n  de departamento'), 'folding kept');
  assert.equal(rest, 'Pauta:\r\nFrom the head\r\n');
});

void test('list: without an https URL, List-Unsubscribe is mailto only and no one-click', async () => {
  const { dir, intake, transport } = await setup();
  await dir.createList('outra@dc.uece.br', 'suzana@dc.uece.br');
  await dir.addListMembers('outra@dc.uece.br', ['bia@dc.uece.br']);
  const res = await transport.deliver(request('outra@dc.uece.br', 'Subject: x\r\n\r\nbody\r\n'), new AbortController().signal);
  assert.equal(res[0].action, 'expanded');
  const fields = parseHeaderFields(intake.received[0].body.split('\r\n\r\n')[0]);
  assert.deepEqual(fields.filter((f) => f.name === 'list-unsubscribe').map((f) => f.value), ['<mailto:outra-owner@dc.uece.br?subject=unsubscribe>']);
  assert.equal(fields.some((f) => f.name === 'list-unsubscribe-post'), false);
  assert.deepEqual(fields.filter((f) => f.name === 'list-id').map((f) => f.value), ['<outra.dc.uece.br>']);
});

void test('list: a copy that already went through this list is dropped (nested lists that contain each other)', async () => {
  const { dir, intake, transport } = await setup();
  await dir.createList('a@dc.uece.br', 'suzana@dc.uece.br');
  await dir.createList('b@dc.uece.br', 'suzana@dc.uece.br');
  await dir.addListMembers('a@dc.uece.br', ['b@dc.uece.br', 'ana@dc.uece.br']);
  await dir.addListMembers('b@dc.uece.br', ['a@dc.uece.br', 'bia@dc.uece.br']);

  // a → members b (a list target) and ana
  await transport.deliver(request('a@dc.uece.br', 'Subject: x\r\n\r\nhi\r\n'), new AbortController().signal);
  assert.equal(intake.received.length, 1);
  const toB = intake.received[0];
  assert.deepEqual(toB.tx.recipients.map((r) => r.targets[0].kind), ['list', 'mailbox']);
  // b gets a's copy → members a (a list target) and bia
  await transport.deliver(request('b@dc.uece.br', toB.body), new AbortController().signal);
  assert.equal(intake.received.length, 2);
  const toA = intake.received[1];
  assert.deepEqual(toA.tx.recipients.map((r) => addressToString(r.address)), ['a@dc.uece.br', 'bia@dc.uece.br']);
  const xloop = parseHeaderFields(toA.body.split('\r\n\r\n')[0]).filter((f) => f.name === 'x-loop').map((f) => f.value);
  assert.deepEqual(xloop, ['b@dc.uece.br', 'a@dc.uece.br']);
  // a sees its own X-Loop: the copy stops here
  const res = await transport.deliver(request('a@dc.uece.br', toA.body), new AbortController().signal);
  assert.deepEqual(res.map((r) => [r.action, r.status]), [['expanded', '2.0.0']]);
  assert.match(res[0].error ?? '', /already expanded/);
  assert.equal(intake.received.length, 2, 'no third re-injection');
});

void test('list: a member refused permanently is skipped and reported; a temporary refusal delays the whole list', async () => {
  const { intake, transport } = await setup();
  intake.refuse.set('carla@remote.example', new MailError(replies.relayDenied()));
  const res = await transport.deliver(request('lista@dc.uece.br', message), new AbortController().signal);
  assert.equal(res[0].action, 'expanded');
  assert.match(res[0].error ?? '', /carla@remote.example \(554 5.7.1 Relay access denied\)/);
  assert.deepEqual(intake.received[0].tx.recipients.map((r) => addressToString(r.address)), ['ana@dc.uece.br']);

  intake.refuse.set('carla@remote.example', new MailError(replies.directoryFailure()));
  const again = await transport.deliver(request('lista@dc.uece.br', message), new AbortController().signal);
  assert.deepEqual(again.map((r) => [r.action, r.status]), [['delayed', '4.4.3']]);
  assert.equal(intake.received.length, 1, 'nothing re-injected when delayed');
});

void test('list: unknown list fails 5.1.1; directory failure delays', async () => {
  const { dir, transport } = await setup();
  const gone = await transport.deliver(request('nolist@dc.uece.br', message), new AbortController().signal);
  assert.deepEqual(gone.map((r) => [r.action, r.status]), [['failed', '5.1.1']]);
  dir.failing = true;
  const down = await transport.deliver(request('lista@dc.uece.br', message), new AbortController().signal);
  assert.deepEqual(down.map((r) => [r.action, r.status]), [['delayed', '4.4.3']]);
});

void test('list: a message with a header and no body', async () => {
  const { intake, transport } = await setup();
  const res = await transport.deliver(request('lista@dc.uece.br', 'Subject: only a header\r\n', 3), new AbortController().signal);
  assert.equal(res[0].action, 'expanded');
  assert.match(intake.received[0].body, /^List-Id: .*\r\n[\s\S]*Subject: only a header\r\n\r\n$/);
});

void test('list: a member that is not an address is skipped, and resolve shows the same (issue 12 item 10)', async () => {
  const { dir, intake, transport } = await setup();
  // stored before `correio list add` refused such members (or written to the directory directly)
  dir.seedList({ address: 'mixed@dc.uece.br', owner: 'suzana@dc.uece.br', members: ['|/usr/bin/touch@dc.uece.br', '/tmp/x@dc.uece.br', 'bia', 'ana@dc.uece.br'] });
  const res = await transport.deliver(request('mixed@dc.uece.br', 'Subject: x\r\n\r\nhi\r\n'), new AbortController().signal);
  assert.equal(res[0].action, 'expanded');
  assert.deepEqual(intake.checked, ['ana@dc.uece.br'], 'only the address is re-injected');
  assert.match(res[0].error ?? '', /\|\/usr\/bin\/touch@dc\.uece\.br \(a "\|command" is not a list member/);
  assert.match(res[0].error ?? '', /bia \(expected a full address/);

  const { tree } = await new AliasResolver({ directory: dir }).explain('mixed@dc.uece.br');
  const shown = tree.children.map((c) => [c.name, c.kind, c.reply ?? c.route]);
  assert.deepEqual(shown, [
    ['|/usr/bin/touch@dc.uece.br', 'error', '553 5.1.3 Bad destination mailbox address syntax'],
    ['/tmp/x@dc.uece.br', 'error', '553 5.1.3 Bad destination mailbox address syntax'],
    ['bia', 'error', '553 5.1.3 Bad destination mailbox address syntax'],
    ['ana@dc.uece.br', 'mailbox', 'local:ana@dc.uece.br'],
  ]);
  assert.ok(!JSON.stringify(tree).includes('"pipe"'), 'no pipe target shown');
});
