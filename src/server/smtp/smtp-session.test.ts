/**
 * SmtpSession over a plain Duplex (no socket), as `sendmail -bs` runs it: a whole transaction,
 * the replies written in order, the session ended by QUIT; and an end of input inside DATA
 * abandons the transaction.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Duplex, PassThrough } from 'node:stream';
import { CidrList } from '../../address/index.js';
import { AuthThrottle } from '../../policy/auth-throttle.js';
import { RecordingIntake } from '../../../test/helpers/recording-intake.js';
import { SmtpSession, type SessionContext } from './smtp-session.js';

function context(intake: RecordingIntake): SessionContext {
  return {
    intake,
    hostname: 'mx.test',
    mode: 'mx',
    maxMessageSize: 1024 * 1024,
    maxRecipients: 100,
    commandTimeoutMs: 5000,
    dataTimeoutMs: 5000,
    minDataRate: 500,
    maxErrors: 20,
    trusted: new CidrList([]),
    authRequired: false,
    allowPlainAuthWithoutTls: false,
    authFailureDelayMs: 0,
    authThrottle: new AuthThrottle(),
  };
}

async function runOver(input: string, intake: RecordingIntake): Promise<string> {
  const inp = new PassThrough();
  const out = new PassThrough();
  let text = '';
  out.on('data', (d: Buffer) => (text += d.toString('latin1')));
  const session = new SmtpSession(Duplex.from({ readable: inp, writable: out }), context(intake));
  const done = session.run();
  inp.end(input);
  await done;
  return text;
}

void test('an SMTP session runs over any Duplex (no socket): a transaction, then QUIT', async () => {
  const intake = await RecordingIntake.create();
  try {
    const out = await runOver(
      'EHLO client.test\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<suzana@dc.uece.br>\r\nDATA\r\nSubject: s\r\n\r\nbody\r\n.\r\nQUIT\r\n',
      intake,
    );
    const codes = out.split('\r\n').filter((l) => /^\d{3} /.test(l)).map((l) => l.slice(0, 3));
    assert.deepEqual(codes, ['220', '250', '250', '250', '354', '250', '221']);
    assert.equal(intake.messages.length, 1);
    assert.equal(intake.messages[0].tx.session.remoteAddress, '');
  } finally {
    await intake.cleanup();
  }
});

void test('the end of input inside DATA abandons the transaction', async () => {
  const intake = await RecordingIntake.create();
  try {
    const out = await runOver('HELO x\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<suzana@dc.uece.br>\r\nDATA\r\nunfinished\r\n', intake);
    assert.match(out, /\r\n354 /);
    assert.equal(intake.messages.length, 0);
  } finally {
    await intake.cleanup();
  }
});
