import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import PostalMime from 'postal-mime';
import { composeDsn } from './dsn.js';
import { formatDeliveryStatus, type DsnInput } from './dsn-parts.js';
import { parseDsn, parseContentType } from './parse-dsn.js';
import { findHeader, splitMessage } from './header-block.js';
import { corporaDir, corporaSkip } from '../../../test/helpers/paths.js';

const original =
  'Received: from helvecio (x [192.0.2.9]) by mx.dsc.ufpb.br with ESMTP id A1; Tue, 1 Jul 2025 10:00:00 +0000\r\n' +
  'From: Helvecio <helvecio@dsc.ufpb.br>\r\n' +
  'To: jacques@dc.uece.br, suzana@dc.uece.br\r\n' +
  'Subject: reuniao\r\n' +
  'Message-ID: <orig.1@dsc.ufpb.br>\r\n' +
  'Date: Tue, 1 Jul 2025 10:00:00 +0000\r\n' +
  '\r\n' +
  'Hello,\r\n\r\n--not-a-boundary\r\nsee you.\r\n';
const headerBlock = original.slice(0, original.indexOf('\r\n\r\n') + 2);

const at = Date.UTC(2025, 6, 1, 10, 0, 0);

async function withOriginal(content: string | Buffer, fn: (open: () => Promise<Readable>, path: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'correio-dsn-'));
  try {
    const path = join(dir, 'msg');
    await writeFile(path, content);
    await fn(async () => createReadStream(path), path);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function collect(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks);
}

function failureInput(open: () => Promise<Readable>, over: Partial<DsnInput> = {}): DsnInput {
  return {
    kind: 'failure',
    reportingMta: 'mx.dsc.ufpb.br',
    from: 'MAILER-DAEMON@mx.dsc.ufpb.br',
    to: 'helvecio@dsc.ufpb.br',
    arrivalDate: at,
    envid: 'QQ314159',
    originalMessageId: '<orig.1@dsc.ufpb.br>',
    recipients: [
      {
        finalRecipient: 'jacques@dc.uece.br',
        originalRecipient: 'rfc822;jacques@dc.uece.br',
        action: 'failed',
        status: '5.1.1',
        remoteMta: 'mx.dc.uece.br',
        diagnostic: { code: 550, status: '5.1.1', lines: ['No such user here'] },
        lastAttemptAt: at + 60_000,
      },
      {
        finalRecipient: 'pascal@dc.uece.br',
        action: 'failed',
        status: '5.4.7',
        diagnostic: 'delivery time expired: connection refused',
        lastAttemptAt: at + 3 * 86_400_000,
      },
    ],
    ret: 'HDRS',
    original: open,
    date: at + 3 * 86_400_000,
    messageId: '<dsn.1@mx.dsc.ufpb.br>',
    zoneOffset: 0,
    ...over,
  };
}

void test('a failure DSN is a multipart/report that postal-mime reads, with every part in place', async () => {
  await withOriginal(original, async (open) => {
    const raw = await collect(composeDsn(failureInput(open)));
    const text = raw.toString('utf8');
    // CRLF only, and no line over 998 octets (RFC 5322 §2.1.1, §2.3)
    assert.ok(!/[^\r]\n/.test(text) && !/\r(?!\n)/.test(text));
    for (const line of text.split('\r\n')) assert.ok(Buffer.byteLength(line) <= 998);
    assert.ok(/^[\x00-\x7f]*$/.test(text), 'a 7-bit report for a 7-bit original');

    const top = await splitMessage(Readable.from([raw]));
    const ct = parseContentType(findHeader(top.fields, 'content-type'));
    assert.equal(ct.type, 'multipart/report');
    assert.equal(ct.params['report-type'], 'delivery-status');
    assert.equal(findHeader(top.fields, 'auto-submitted'), 'auto-replied');
    assert.equal(findHeader(top.fields, 'in-reply-to'), '<orig.1@dsc.ufpb.br>');
    assert.equal(findHeader(top.fields, 'mime-version'), '1.0');
    top.body.destroy();

    const email = await PostalMime.parse(raw);
    assert.equal(email.subject, 'Undelivered Mail Returned to Sender');
    assert.equal(email.from?.address, 'MAILER-DAEMON@mx.dsc.ufpb.br');
    assert.equal(email.to?.[0]?.address, 'helvecio@dsc.ufpb.br');
    assert.equal(email.messageId, '<dsn.1@mx.dsc.ufpb.br>');
    assert.equal(new Date(email.date ?? '').getTime(), at + 3 * 86_400_000);
    assert.match(email.text ?? '', /<jacques@dc\.uece\.br>: delivery failed permanently/);
    assert.match(email.text ?? '', /mx\.dc\.uece\.br said: 550 5\.1\.1 No such user here/);
    assert.match(email.text ?? '', /<pascal@dc\.uece\.br>/);
    assert.match(email.text ?? '', /What to do/);
    assert.deepEqual(
      email.attachments.map((a) => a.mimeType),
      ['message/delivery-status', 'text/rfc822-headers'],
    );
    const headers = Buffer.from(email.attachments[1].content as ArrayBuffer).toString('utf8');
    // postal-mime gives LF line ends; compare line by line
    assert.equal(headers.replace(/\r\n/g, '\n').replace(/\n+$/, ''), headerBlock.replace(/\r\n/g, '\n').replace(/\n$/, ''));
    assert.ok(!headers.includes('Hello,'), 'RET=HDRS returns no body');
  });
});

void test('the delivery-status part carries RFC 3464 fields that parseDsn reads back', async () => {
  await withOriginal(original, async (open) => {
    const raw = await collect(composeDsn(failureInput(open)));
    const dsn = parseDsn(raw);
    assert.ok(dsn);
    assert.equal(dsn.contentType, 'message/delivery-status');
    assert.equal(dsn.reportingMta, 'mx.dsc.ufpb.br');
    assert.equal(dsn.originalEnvelopeId, 'QQ314159');
    assert.equal(dsn.arrivalDate, 'Tue, 1 Jul 2025 10:00:00 +0000');
    assert.equal(dsn.recipients.length, 2);
    const [j, p] = dsn.recipients;
    assert.deepEqual(
      { f: j.finalRecipient, t: j.finalRecipientType, o: j.originalRecipient, a: j.action, s: j.status, m: j.remoteMta, d: j.diagnostic, dt: j.diagnosticType },
      { f: 'jacques@dc.uece.br', t: 'rfc822', o: 'jacques@dc.uece.br', a: 'failed', s: '5.1.1', m: 'mx.dc.uece.br', d: '550 5.1.1 No such user here', dt: 'smtp' },
    );
    assert.equal(j.lastAttemptDate, 'Tue, 1 Jul 2025 10:01:00 +0000');
    assert.equal(j.willRetryUntil, undefined);
    assert.equal(p.finalRecipient, 'pascal@dc.uece.br');
    assert.equal(p.originalRecipient, undefined);
    assert.equal(p.status, '5.4.7');
    assert.equal(p.diagnosticType, 'x-correio');
    assert.equal(p.remoteMta, undefined);
  });
});

void test('field order follows the RFC 3464 ABNF', () => {
  const text = formatDeliveryStatus(failureInput(async () => Readable.from([])));
  const names = text.split('\r\n').filter((l) => /^[A-Za-z-]+:/.test(l)).map((l) => l.split(':')[0]);
  assert.deepEqual(names.slice(0, 3), ['Original-Envelope-Id', 'Reporting-MTA', 'Arrival-Date']);
  assert.deepEqual(names.slice(3, 10), [
    'Original-Recipient',
    'Final-Recipient',
    'Action',
    'Status',
    'Remote-MTA',
    'Diagnostic-Code',
    'Last-Attempt-Date',
  ]);
  // groups are separated by exactly one blank line and the per-message group comes first
  assert.equal(text.split('\r\n\r\n').length, 3);
});

void test('RET=FULL returns the whole original as message/rfc822, byte for byte', async () => {
  await withOriginal(original, async (open) => {
    const raw = await collect(composeDsn(failureInput(open, { ret: 'FULL' })));
    const email = await PostalMime.parse(raw);
    assert.deepEqual(
      email.attachments.map((a) => a.mimeType),
      ['message/delivery-status', 'message/rfc822'],
    );
    const text = raw.toString('utf8');
    assert.ok(text.includes(`Content-Type: message/rfc822\r\nContent-Transfer-Encoding: 7bit\r\n\r\n${original}\r\n--`));
    // the original's own "--not-a-boundary" line did not end the report
    assert.equal(parseDsn(raw)?.recipients.length, 2);
  });
});

void test('the original is streamed: a large one is never read whole before output starts', async () => {
  const big = headerBlock + '\r\n' + ('x'.repeat(998) + '\r\n').repeat(20_000); // ~20 MB
  let opened = 0;
  let produced = 0;
  const input = failureInput(
    async () => {
      opened++;
      return Readable.from(
        (function* () {
          for (let i = 0; i < big.length; i += 65536) {
            produced += 1;
            yield Buffer.from(big.slice(i, i + 65536));
          }
        })(),
        { objectMode: false, highWaterMark: 65536 },
      );
    },
    { ret: 'FULL' },
  );
  const out = composeDsn(input);
  let seen = 0;
  for await (const chunk of out) {
    seen += (chunk as Buffer).length;
    if (seen > 200_000) break; // a consumer that stops early
  }
  out.destroy();
  assert.equal(opened, 1);
  assert.ok(produced < 50, `only what was consumed was read (read ${produced} of ${Math.ceil(big.length / 65536)} chunks)`);
});

void test('delay notices carry Will-Retry-Until and headers only; success notices say delivered', async () => {
  await withOriginal(original, async (open) => {
    const delay = await collect(
      composeDsn(
        failureInput(open, {
          kind: 'delay',
          ret: 'FULL',
          recipients: [
            {
              finalRecipient: 'jacques@dc.uece.br',
              action: 'delayed',
              status: '4.4.1',
              remoteMta: 'mx.dc.uece.br',
              diagnostic: 'connection refused',
              lastAttemptAt: at + 4 * 3_600_000,
              willRetryUntil: at + 3 * 86_400_000,
            },
          ],
        }),
      ),
    );
    const email = await PostalMime.parse(delay);
    assert.equal(email.subject, 'Delayed Mail (still being retried)');
    assert.match(email.text ?? '', /do not need to send it again/);
    const d = parseDsn(delay);
    assert.equal(d?.recipients[0].action, 'delayed');
    assert.equal(d?.recipients[0].willRetryUntil, 'Fri, 4 Jul 2025 10:00:00 +0000');

    const success = await collect(
      composeDsn(
        failureInput(open, {
          kind: 'success',
          recipients: [{ finalRecipient: 'suzana@dc.uece.br', action: 'relayed', status: '2.0.0', remoteMta: 'mx.dc.uece.br' }],
        }),
      ),
    );
    assert.equal((await PostalMime.parse(success)).subject, 'Successful Mail Delivery Report');
    const s = parseDsn(success);
    assert.equal(s?.recipients[0].action, 'relayed');
    assert.equal(s?.recipients[0].status, '2.0.0');
  });
});

void test('SMTPUTF8: the global types of RFC 6533 with raw UTF-8 addresses', async () => {
  const utf8Original = 'From: José <josé@exemplo.br>\r\nTo: joão@exemplo.br\r\nSubject: olá\r\n\r\ncorpo\r\n';
  await withOriginal(utf8Original, async (open) => {
    const raw = await collect(
      composeDsn(
        failureInput(open, {
          to: 'josé@exemplo.br',
          smtpUtf8: true,
          recipients: [
            {
              finalRecipient: 'joão@exemplo.br',
              originalRecipient: 'utf-8;joão@exemplo.br',
              action: 'failed',
              status: '5.1.1',
              diagnostic: { code: 550, status: '5.1.1', lines: ['usuário desconhecido'] },
            },
          ],
        }),
      ),
    );
    const text = raw.toString('utf8');
    assert.match(text, /Content-Type: message\/global-delivery-status/);
    assert.match(text, /Content-Type: message\/global-headers/);
    assert.match(text, /Final-Recipient: utf-8;joão@exemplo\.br/);
    const d = parseDsn(raw);
    assert.equal(d?.contentType, 'message/global-delivery-status');
    assert.equal(d?.recipients[0].finalRecipient, 'joão@exemplo.br');
    assert.equal(d?.recipients[0].diagnostic, '550 5.1.1 usuário desconhecido');
    const email = await PostalMime.parse(raw);
    assert.equal(email.to?.[0]?.address, 'josé@exemplo.br');
    assert.match(email.text ?? '', /<joão@exemplo\.br>/);
  });
});

void test('without SMTPUTF8 the report stays 7-bit: \\x{HEX} addresses, QP text, hostile text tamed', async () => {
  const eightBitHeaders = Buffer.concat([Buffer.from('Subject: '), Buffer.from([0xe9, 0xe8]), Buffer.from('\r\nTo: x@y\r\n\r\nbody\r\n')]);
  await withOriginal(eightBitHeaders, async (open) => {
    const raw = await collect(
      composeDsn(
        failureInput(open, {
          recipients: [
            {
              finalRecipient: 'joão@exemplo.br',
              action: 'failed',
              status: '5.1.1',
              remoteMta: 'mx.exemplo.br',
              diagnostic: { code: 550, status: '5.1.1', lines: ['bad\r\nX-Injected: 1', 'usuário'] },
            },
          ],
        }),
      ),
    );
    const text = raw.toString('latin1');
    assert.ok(!/[\x80-\xff]/.test(text), 'no 8-bit octet anywhere');
    assert.match(text, /Final-Recipient: utf-8;jo\\x\{E3\}o@exemplo\.br/);
    assert.ok(!/^X-Injected/m.test(text));
    assert.match(text, /Diagnostic-Code: smtp; 550 5\.1\.1 bad X-Injected: 1 usu\?rio/);
    assert.match(text, /Content-Type: text\/rfc822-headers\r\nContent-Transfer-Encoding: quoted-printable/);
    assert.match(text, /Subject: =E9=E8/);
    const d = parseDsn(raw);
    assert.equal(d?.recipients[0].finalRecipient, 'joão@exemplo.br');
    const email = await PostalMime.parse(raw);
    assert.match(email.text ?? '', /<joão@exemplo\.br>: delivery failed/);
  });
});

void test('a BINARYMIME original is returned as headers only even with RET=FULL', async () => {
  await withOriginal(original, async (open) => {
    const raw = await collect(composeDsn(failureInput(open, { ret: 'FULL', originalBody: 'BINARYMIME' })));
    const email = await PostalMime.parse(raw);
    assert.deepEqual(
      email.attachments.map((a) => a.mimeType),
      ['message/delivery-status', 'text/rfc822-headers'],
    );
  });
});

void test('an original that cannot be opened errors the stream', async () => {
  const out = composeDsn(
    failureInput(async () => {
      throw new Error('ENOENT: message gone');
    }),
  );
  await assert.rejects(collect(out), /message gone/);
});

// ---------------------------------------------------------------------------------------------
// the sisimai corpus of real bounces (../shared/corpora/dsn/)

const corpusRel = 'dsn/sisimai-set-of-emails';

/**
 * Samples that mention message/delivery-status but carry no readable RFC 3464 report: the
 * report is pasted as text inside another message, the boundaries were stripped or indented
 * when the sample was anonymised, or the report has no recipient group at all.
 */
const unreadable = new Set([
  'lhost-postfix-49.eml', // a Postfix bounce pasted into a text/plain message
  'lhost-postfix-50.eml', // the same
  'lhost-postfix-64.eml', // per-message fields only, no recipient group
  'lhost-sendmail-53.eml', // no MIME headers on the message: the parts are plain text
  'lhost-sendmail-54.eml', // the same
  'rfc3464-04.eml', // boundary lines removed
  'rfc3464-06.eml', // the same
  'rfc3464-35.eml', // boundary lines indented by a space
]);

/**
 * Where sisimai's expected status is not in the report but inferred from the human text
 * ("reason" classification), so no RFC 3464 parser can give it.
 */
const inferredBySisimai = new Set([
  'lhost-opensmtpd-11.eml',
  'lhost-opensmtpd-13.eml',
  'lhost-opensmtpd-14.eml',
  'lhost-opensmtpd-17.eml',
  'lhost-sendmail-18.eml',
  'lhost-sendmail-56.eml',
]);

void test('parseDsn reads every RFC 3464 report of the sisimai corpus and agrees with its expected codes', { skip: corporaSkip(corpusRel) }, async () => {
  const { readdir } = await import('node:fs/promises');
  const dir = join(corporaDir, corpusRel);
  const expected = JSON.parse(await readFile(join(dir, 'expected.json'), 'utf8')) as {
    files: Record<string, { status: string }[]>;
  };
  const files = (await readdir(dir)).filter((f) => f.endsWith('.eml')).sort();
  assert.ok(files.length >= 250);
  let reports = 0;
  let recipients = 0;
  for (const f of files) {
    const raw = await readFile(join(dir, f));
    const mentions = /^content-type:\s*message\/(global-)?delivery-status/im.test(raw.toString('latin1'));
    const dsn = parseDsn(raw);
    if (!mentions || unreadable.has(f)) {
      assert.ok(!dsn || dsn.recipients.length === 0, `${f}: no report expected`);
      continue;
    }
    assert.ok(dsn, `${f}: a report`);
    assert.ok(dsn.recipients.length > 0, `${f}: at least one recipient`);
    assert.ok(dsn.reportingMta, `${f}: Reporting-MTA`);
    reports++;
    for (const r of dsn.recipients) {
      recipients++;
      assert.match(r.finalRecipient, /\S/, `${f}: Final-Recipient`);
      assert.match(r.status, /^[245]\.\d{1,3}\.\d{1,3}$|^$/, `${f}: Status syntax`);
    }
    if (inferredBySisimai.has(f)) continue;
    // each code sisimai expects appears as a Status, or inside the Diagnostic-Code it came from
    // (codes with a detail of 900 and over are sisimai's own, not RFC 3463)
    const hay = dsn.recipients.map((r) => `${r.status} ${r.diagnostic ?? ''}`).join(' ');
    for (const e of expected.files[f] ?? []) {
      if (e.status === '' || /\.\d{3,}$/.test(e.status)) continue;
      assert.ok(hay.includes(e.status), `${f}: expected ${e.status}, report says ${hay}`);
    }
  }
  assert.ok(reports >= 150, `${reports} reports read`);
  assert.ok(recipients >= reports);
});

void test('our DSN has the structure of a Postfix bounce from the corpus', { skip: corporaSkip(corpusRel) }, async () => {
  const sample = await readFile(join(corporaDir, corpusRel, 'lhost-postfix-02.eml'));
  const theirs = await PostalMime.parse(sample);
  await withOriginal(original, async (open) => {
    const ours = await PostalMime.parse(await collect(composeDsn(failureInput(open, { ret: 'FULL' }))));
    assert.deepEqual(
      ours.attachments.map((a) => a.mimeType),
      theirs.attachments.map((a) => a.mimeType),
    );
    const topType = (h: { key: string; value: string }[]): string =>
      parseContentType(h.find((x) => x.key === 'content-type')?.value).type;
    assert.equal(topType(ours.headers), topType(theirs.headers));
    // the same per-recipient field names, in both
    const theirDsn = parseDsn(sample);
    const ourFields = Object.keys(parseDsn(await collect(composeDsn(failureInput(open))))?.recipients[0].fields ?? {});
    for (const name of Object.keys(theirDsn?.recipients[0].fields ?? {})) assert.ok(ourFields.includes(name), name);
  });
});

void test('parseDsn: bare report bodies, LF line ends, and missing blank lines between groups', () => {
  const d = parseDsn(
    'Reporting-MTA: dns; a.example\nFinal-Recipient: rfc822; <one@x>\nAction: failed\nStatus: 5.1.1\n' +
      'Final-Recipient: rfc822; two@x\nAction: delayed\nStatus: 4.4.1 (timeout)\n',
    { bare: true },
  );
  assert.equal(d?.reportingMta, 'a.example');
  assert.deepEqual(
    d?.recipients.map((r) => [r.finalRecipient, r.action, r.status]),
    [
      ['one@x', 'failed', '5.1.1'],
      ['two@x', 'delayed', '4.4.1'],
    ],
  );
  assert.equal(parseDsn('Subject: hi\r\n\r\nno report here\r\n'), undefined);
});
