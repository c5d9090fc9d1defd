import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { Address, ReversePath } from '../core/address.js';
import type { DsnParams, Envelope, MessageId } from '../core/envelope.js';
import type { AcceptedRecipient, Intake, IntakeResult, IntakeTransaction, MailParams, SessionInfo } from '../core/intake.js';
import type { MessageDraft, QueueStore } from '../core/queue-store.js';
import { MailError, reply } from '../core/smtp-reply.js';
import { replies } from '../core/replies.js';
import type { DeliveryReport, DeliveryStatus } from '../core/transport.js';
import { parseDsn } from '../protocol/mime/parse-dsn.js';
import { DsnNotifier, notifyWants } from './dsn-notifier.js';

const original =
  'From: Helvecio <helvecio@dsc.ufpb.br>\r\nTo: jacques@dc.uece.br\r\nSubject: reuniao\r\n' +
  'Message-ID: <orig.7@dsc.ufpb.br>\r\n\r\nHello.\r\n';

/** A QueueStore that only opens messages, from files in a temp dir. */
class FileMessages implements QueueStore {
  constructor(private readonly dir: string) {}
  async createMessage(): Promise<MessageDraft> {
    throw new Error('not used');
  }
  async openMessage(id: MessageId): Promise<Readable> {
    const stream = createReadStream(join(this.dir, id));
    // surface ENOENT on open, as a real store does
    await new Promise<void>((resolve, reject) => {
      stream.once('open', () => resolve());
      stream.once('error', reject);
    });
    return stream;
  }
  async messageSize(): Promise<number> {
    return 0;
  }
  async findEnvelope(): Promise<Envelope | undefined> {
    return undefined;
  }
  async findMessageEnvelopes(): Promise<Envelope[]> {
    return [];
  }
  async listMessageIds(): Promise<MessageId[]> {
    return [];
  }
  async putEnvelope(): Promise<void> {}
  async deleteEnvelope(): Promise<void> {}
  async *walkEnvelopes(): AsyncIterable<Envelope> {}
  async close(): Promise<void> {}
}

interface Received {
  tx: IntakeTransaction;
  body: string;
}

/** An Intake that records what it is given; recipients in `refuse` are refused with that reply. */
class RecordingIntake implements Intake {
  readonly received: Received[] = [];
  readonly checked: { session: SessionInfo; sender: ReversePath; rcpt: string; dsn: DsnParams }[] = [];
  readonly senders: { sender: ReversePath; mail: MailParams }[] = [];
  constructor(private readonly refuse: Record<string, MailError> = {}) {}
  async checkSender(_s: SessionInfo, sender: ReversePath, mail: MailParams): Promise<void> {
    this.senders.push({ sender, mail });
  }
  async checkRecipient(session: SessionInfo, sender: ReversePath, rcpt: Address, dsn: DsnParams): Promise<AcceptedRecipient> {
    const key = `${rcpt.local}@${rcpt.domain}`;
    this.checked.push({ session, sender, rcpt: key, dsn });
    const err = this.refuse[key];
    if (err) throw err;
    return { address: rcpt, dsn, targets: [{ kind: 'remote', address: rcpt, original: rcpt, via: [] }] };
  }
  async receive(tx: IntakeTransaction, body: Readable | Buffer): Promise<IntakeResult> {
    const chunks: Buffer[] = [];
    for await (const c of Buffer.isBuffer(body) ? [body] : body) chunks.push(Buffer.from(c as Buffer));
    this.received.push({ tx, body: Buffer.concat(chunks).toString('utf8') });
    return { messageId: `dsn${this.received.length}`, reply: replies.queued('x') };
  }
}

const t0 = Date.UTC(2025, 6, 1, 10, 0, 0);
const clock = { now: () => t0 + 3 * 86_400_000 };
const helvecio: Address = { local: 'helvecio', domain: 'dsc.ufpb.br' };

function envelope(rcpt: string, over: Partial<Envelope> = {}): Envelope {
  const [local, domain] = rcpt.split('@');
  return {
    id: `env-${rcpt}`,
    messageId: 'M1',
    sender: helvecio,
    recipient: { local, domain },
    route: { transport: 'smtp', nextHop: domain },
    arrivedAt: t0,
    size: original.length,
    attempts: [{ at: t0 + 60_000, host: 'mx.dc.uece.br', status: '5.1.1' }],
    nextAttemptAt: 0,
    dsn: {},
    ...over,
  };
}

function report(env: Envelope, result: Partial<DeliveryStatus> = {}): DeliveryReport {
  return {
    envelope: env,
    result: {
      envelopeId: env.id,
      action: 'failed',
      status: '5.1.1',
      reply: reply(550, '5.1.1', 'No such user here'),
      remoteMta: 'mx.dc.uece.br',
      ...result,
    },
  };
}

async function setup(
  fn: (ctx: { intake: RecordingIntake; notifier: DsnNotifier }) => Promise<void>,
  refuse: Record<string, MailError> = {},
): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'correio-notifier-'));
  try {
    await writeFile(join(dir, 'M1'), original);
    const intake = new RecordingIntake(refuse);
    const notifier = new DsnNotifier({
      hostname: 'mx.dsc.ufpb.br',
      store: new FileMessages(dir),
      intake,
      clock,
      postmaster: 'postmaster@dsc.ufpb.br',
      maxQueueLifetime: 3 * 86_400_000,
    });
    await fn({ intake, notifier });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

void test('the seed example: one bounce to helvecio naming jacques with 5.1.1, from <>', async () => {
  await setup(async ({ intake, notifier }) => {
    await notifier.notify('failure', 'M1', [report(envelope('jacques@dc.uece.br'))]);
    assert.equal(intake.received.length, 1);
    const { tx, body } = intake.received[0];
    assert.equal(tx.sender, null);
    assert.deepEqual(tx.session, { protocol: 'internal', internal: true, mayRelay: true, submission: false });
    assert.equal(tx.recipients.length, 1);
    assert.deepEqual(tx.recipients[0].address, helvecio);
    // the default NOTIFY: if this report fails, the postmaster is told (see the double bounce test)
    assert.deepEqual(intake.checked[0].dsn, {});
    assert.equal(intake.checked[0].sender, null);
    assert.equal(intake.senders[0].sender, null);
    assert.equal(tx.mail.body, '7BIT');
    const dsn = parseDsn(body);
    assert.equal(dsn?.reportingMta, 'mx.dsc.ufpb.br');
    assert.deepEqual(
      dsn?.recipients.map((r) => [r.finalRecipient, r.action, r.status, r.remoteMta, r.diagnostic]),
      [['jacques@dc.uece.br', 'failed', '5.1.1', 'mx.dc.uece.br', '550 5.1.1 No such user here']],
    );
    assert.equal(dsn?.recipients[0].lastAttemptDate !== undefined, true);
    assert.match(body, /^In-Reply-To: <orig\.7@dsc\.ufpb\.br>\r$/m);
    assert.match(body, /^From: Mail Delivery System <MAILER-DAEMON@mx\.dsc\.ufpb\.br>\r$/m);
    assert.match(body, /^To: <helvecio@dsc\.ufpb\.br>\r$/m);
    assert.match(body, /Content-Type: text\/rfc822-headers/);
    assert.ok(!body.includes('Hello.'), 'headers only by default');
  });
});

void test('one report per message listing every recipient; ORCPT, ENVID and RET=FULL honoured', async () => {
  await setup(async ({ intake, notifier }) => {
    const dsn: DsnParams = { ret: 'FULL', envid: 'ENV-42', orcpt: 'rfc822;Jacques@DC.uece.br' };
    await notifier.notify('failure', 'M1', [
      report(envelope('jacques@dc.uece.br', { dsn })),
      report(envelope('pascal@dc.uece.br', { dsn: { ret: 'FULL', envid: 'ENV-42' }, originalRecipient: { local: 'staff', domain: 'dc.uece.br' } }), {
        status: '4.4.7',
        reply: undefined,
        error: 'connection refused',
      }),
    ]);
    assert.equal(intake.received.length, 1);
    const body = intake.received[0].body;
    const parsed = parseDsn(body);
    assert.equal(parsed?.originalEnvelopeId, 'ENV-42');
    assert.deepEqual(
      parsed?.recipients.map((r) => [r.finalRecipient, r.originalRecipient, r.status]),
      [
        ['jacques@dc.uece.br', 'Jacques@DC.uece.br', '5.1.1'],
        ['pascal@dc.uece.br', 'staff@dc.uece.br', '4.4.7'],
      ],
    );
    assert.equal(parsed?.recipients[1].diagnostic, 'connection refused');
    assert.match(body, /Content-Type: message\/rfc822/);
    assert.ok(body.includes('Hello.'), 'RET=FULL returns the body');
  });
});

void test('NOTIFY: NEVER sends nothing; a list is obeyed per kind; the default is FAILURE,DELAY', async () => {
  assert.equal(notifyWants(undefined, 'failure'), true);
  assert.equal(notifyWants(undefined, 'delay'), true);
  assert.equal(notifyWants(undefined, 'success'), false);
  assert.equal(notifyWants(['NEVER'], 'failure'), false);
  assert.equal(notifyWants(['SUCCESS'], 'failure'), false);
  assert.equal(notifyWants(['SUCCESS'], 'success'), true);
  assert.equal(notifyWants(['FAILURE'], 'delay'), false);
  assert.equal(notifyWants(['DELAY', 'FAILURE'], 'delay'), true);
  await setup(async ({ intake, notifier }) => {
    await notifier.notify('failure', 'M1', [report(envelope('jacques@dc.uece.br', { dsn: { notify: ['NEVER'] } }))]);
    await notifier.notify('delay', 'M1', [
      report(envelope('jacques@dc.uece.br', { dsn: { notify: ['FAILURE'] } }), { action: 'delayed', status: '4.4.1' }),
    ]);
    await notifier.notify('success', 'M1', [
      report(envelope('jacques@dc.uece.br'), { action: 'relayed', status: '2.0.0', reply: undefined }),
    ]);
    assert.equal(intake.received.length, 0);
    // only the recipients that asked are listed
    await notifier.notify('failure', 'M1', [
      report(envelope('jacques@dc.uece.br', { dsn: { notify: ['NEVER'] } })),
      report(envelope('pascal@dc.uece.br', { dsn: { notify: ['FAILURE'] } })),
    ]);
    assert.deepEqual(
      parseDsn(intake.received[0].body)?.recipients.map((r) => r.finalRecipient),
      ['pascal@dc.uece.br'],
    );
    await notifier.notify('success', 'M1', [
      report(envelope('suzana@dc.uece.br', { dsn: { notify: ['SUCCESS'] } }), { action: 'relayed', status: '2.0.0', reply: undefined }),
    ]);
    assert.equal(parseDsn(intake.received[1].body)?.recipients[0].action, 'relayed');
  });
});

void test('a delay notice says until when delivery is tried, and carries headers only', async () => {
  await setup(async ({ intake, notifier }) => {
    await notifier.notify('delay', 'M1', [
      report(envelope('jacques@dc.uece.br', { dsn: { ret: 'FULL' } }), {
        action: 'delayed',
        status: '4.4.1',
        reply: undefined,
        error: 'connection timed out',
      }),
    ]);
    const body = intake.received[0].body;
    const r = parseDsn(body)?.recipients[0];
    assert.equal(r?.action, 'delayed');
    assert.equal(Date.parse(r?.willRetryUntil ?? ''), t0 + 3 * 86_400_000);
    assert.match(body, /^Subject: Delayed Mail \(still being retried\)\r$/m);
    assert.ok(!body.includes('Hello.'));
  });
});

void test('never bounce a bounce: a failed <> message goes to the postmaster; delays about it are dropped', async () => {
  await setup(async ({ intake, notifier }) => {
    await notifier.notify('delay', 'M1', [report(envelope('jacques@dc.uece.br', { sender: null }), { action: 'delayed', status: '4.4.1' })]);
    assert.equal(intake.received.length, 0);
    await notifier.notify('failure', 'M1', [report(envelope('jacques@dc.uece.br', { sender: null }))]);
    assert.equal(intake.received.length, 1);
    assert.equal(intake.received[0].tx.sender, null);
    assert.deepEqual(intake.received[0].tx.recipients[0].address, { local: 'postmaster', domain: 'dsc.ufpb.br' });
    assert.match(intake.received[0].body, /^To: <postmaster@dsc\.ufpb\.br>\r$/m);
    // the postmaster's copy is the last word: its own failure is not reported
    assert.deepEqual(intake.checked[0].dsn, { notify: ['NEVER'] });
  });
});

// Regression (e2e t-11): every notice was sent with NOTIFY=NEVER, so a bounce that could not be
// delivered was dropped in silence instead of reaching the postmaster.
void test('double bounce: a failed report to the sender reaches the postmaster once, then nothing more', async () => {
  await setup(async ({ intake, notifier }) => {
    await notifier.notify('failure', 'M1', [report(envelope('jacques@dc.uece.br'))]);
    const toSender = intake.checked[0].dsn;
    // that report failed in its turn: the runner asks for a notice about an envelope from "<>"
    // that carries the NOTIFY the report was sent with
    await notifier.notify('failure', 'M1', [report(envelope('helvecio@dsc.ufpb.br', { sender: null, dsn: toSender }))]);
    assert.equal(intake.received.length, 2);
    assert.deepEqual(intake.received[1].tx.recipients[0].address, { local: 'postmaster', domain: 'dsc.ufpb.br' });
    const toPostmaster = intake.checked[1].dsn;
    // and the postmaster's copy failed too: the round ends
    await notifier.notify('failure', 'M1', [report(envelope('postmaster@dsc.ufpb.br', { sender: null, dsn: toPostmaster }))]);
    assert.equal(intake.received.length, 2);
  });
});

void test('a sender that cannot take mail: the postmaster gets the report; a temporary refusal is thrown', async () => {
  await setup(
    async ({ intake, notifier }) => {
      await notifier.notify('failure', 'M1', [report(envelope('jacques@dc.uece.br'))]);
      assert.equal(intake.received.length, 1);
      assert.equal(intake.received[0].tx.recipients[0].address.local, 'postmaster');
    },
    { 'helvecio@dsc.ufpb.br': new MailError(replies.noSuchUser()) },
  );
  await setup(
    async ({ intake, notifier }) => {
      await assert.rejects(notifier.notify('failure', 'M1', [report(envelope('jacques@dc.uece.br'))]), (e: unknown) => e instanceof MailError && e.temporary);
      assert.equal(intake.received.length, 0);
    },
    { 'helvecio@dsc.ufpb.br': new MailError(replies.directoryFailure()) },
  );
  // neither the sender nor the postmaster: the caller must retry
  await setup(
    async ({ notifier }) => {
      await assert.rejects(notifier.notify('failure', 'M1', [report(envelope('jacques@dc.uece.br'))]), MailError);
    },
    {
      'helvecio@dsc.ufpb.br': new MailError(replies.noSuchUser()),
      'postmaster@dsc.ufpb.br': new MailError(replies.localError()),
    },
  );
});

void test('a message gone from the spool makes notify fail (so the caller can retry or log)', async () => {
  await setup(async ({ intake, notifier }) => {
    await assert.rejects(notifier.notify('failure', 'GONE', [report(envelope('jacques@dc.uece.br', { messageId: 'GONE' }))]), /ENOENT/);
    assert.equal(intake.received.length, 0);
  });
});

void test('an SMTPUTF8 original gives an SMTPUTF8 report with the global types', async () => {
  await setup(async ({ intake, notifier }) => {
    await notifier.notify('failure', 'M1', [
      report(envelope('joão@exemplo.br', { smtpUtf8: true, body: '8BITMIME' }), { remoteMta: 'mx.exemplo.br' }),
    ]);
    const { tx, body } = intake.received[0];
    assert.equal(tx.mail.smtpUtf8, true);
    assert.equal(tx.mail.body, '8BITMIME');
    assert.match(body, /message\/global-delivery-status/);
    assert.equal(parseDsn(body)?.recipients[0].finalRecipient, 'joão@exemplo.br');
  });
});
