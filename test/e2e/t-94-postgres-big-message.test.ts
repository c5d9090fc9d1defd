/**
 * t-94: a big message through a node whose queue is in PostgreSQL is streamed, never held
 * whole (issue 17). A 20 MB message goes in by DATA and by BDAT through a `correio serve`
 * process ([storage] url, mailboxes in a Maildir), while its resident memory is sampled from
 * /proc: RSS must grow by less than 18 MB over its level before each transfer, the bound and
 * the 1 MB young generation of t-60 (holding the body whole, as the PostgreSQL queue did before,
 * adds at least its 20 MB: in the draft, and again as the bytea parameter and the read-back
 * hex). Each delivered copy ends with exactly what was sent (the Maildir keeps LF line ends).
 * Then a client that goes away in the middle of a 20 MB DATA, once its chunks are being
 * written: its transaction is rolled back, no chunk is left. Then kill -9 of the node in the
 * middle of another such DATA: the message acknowledged before it is delivered after a
 * restart, and no chunk row, message or open transaction is left of the one cut.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bdatChunks, rssDuring } from '../helpers/process-stats.js';
import { rawSmtpSession, type RawSmtpSession } from '../helpers/raw-smtp.js';
import { startSiteProcess, waitFor } from '../helpers/site.js';
import { pgScalar, pgUnavailable, withTestDatabase } from '../helpers/pg.js';

const MB = 1024 * 1024;
const SIZE = 20 * MB;
const pgSkip = await pgUnavailable();
const skip = pgSkip ?? (existsSync('/proc/self/status') ? false : 'needs /proc (Linux)');

/** A plain SMTP session from 127.0.0.1 that offers CHUNKING. */
async function session(port: number): Promise<RawSmtpSession> {
  const s = await rawSmtpSession(port);
  assert.match(s.ehlo, /CHUNKING/);
  return s;
}

const header = (marker: string): Buffer => Buffer.from(`From: Big <big@localhost>\r\nTo: big@localhost\r\nSubject: ${marker}\r\n\r\n`);

/** The message: a header, then `size` octets of 72-octet lines, generated as it is sent. */
function* message(marker: string, size: number): Iterable<Buffer> {
  yield header(marker);
  const block = Buffer.from(`${marker} ${'x'.repeat(70 - marker.length - 1)}\r\n`.repeat(1024));
  for (let sent = 0; sent < size; sent += block.length) yield block;
}

/** SHA-256 of the message as a Maildir holds it (LF line ends). */
function digestAsStored(marker: string, size: number): string {
  const h = createHash('sha256');
  for (const b of message(marker, size)) h.update(b.toString('latin1').replace(/\r\n/g, '\n'), 'latin1');
  return h.digest('hex');
}

const scalar = pgScalar;

/** The site: one node on `url`, its Maildir under its data_dir (so the site's mailbox() finds it). */
async function pgSite(url: string, dataDir: string): ReturnType<typeof startSiteProcess> {
  const tables = `[storage]\nurl = ${JSON.stringify(url)}\nlease = "3s"\npoll_interval = "1s"\nmail_dir = ${JSON.stringify(join(dataDir, 'mail'))}\n[metrics]\nlisten = []\n[imap]\nlisten = []\n`;
  const nodeOptions = process.env.NODE_OPTIONS;
  process.env.NODE_OPTIONS = `${nodeOptions ?? ''} --max-semi-space-size=1`.trim();
  try {
    return await startSiteProcess({ domains: ['localhost'], users: ['big@localhost'], dataDir, tables, smtp: { max_message_size: '50MB' } });
  } finally {
    if (nodeOptions === undefined) delete process.env.NODE_OPTIONS;
    else process.env.NODE_OPTIONS = nodeOptions;
  }
}

void describe('t-94 a 20 MB message through the PostgreSQL queue', { skip }, () => {
  void test('by DATA and by BDAT with RSS growing less than 18 MB, delivered as sent', (t) =>
    withTestDatabase(async (db) => {
      const dataDir = await mkdtemp(join(tmpdir(), 'correio-t94-'));
      const site = await pgSite(db.url, dataDir);
      try {
        const pid = site.child!.pid!;
        const s = await session(site.port);
        // warm up: a message over the 1 MiB chunk size, so the streamed path is loaded before the baseline
        assert.match(await s.cmd('MAIL FROM:<big@localhost>'), /^250/);
        assert.match(await s.cmd('RCPT TO:<big@localhost>'), /^250/);
        assert.match(await s.cmd('DATA'), /^354/);
        assert.match(await s.send([...message('warm', 2 * MB), Buffer.from('.\r\n')]), /^250/);
        await site.waitForMessages('big@localhost', 1, 60_000);

        const growthOf = async (name: string, delivered: number, send: () => Promise<void>): Promise<number> => {
          const { baseline, peak } = await rssDuring(pid, async () => {
            await send();
            await site.waitForMessages('big@localhost', delivered, 120_000);
          });
          const growth = peak - baseline;
          t.diagnostic(`${name}: RSS baseline ${(baseline / MB).toFixed(1)} MB, peak ${(peak / MB).toFixed(1)} MB, growth ${(growth / MB).toFixed(1)} MB`);
          return growth;
        };
        try {
          const byData = await growthOf('DATA', 2, async () => {
            assert.match(await s.cmd('MAIL FROM:<big@localhost>'), /^250/);
            assert.match(await s.cmd('RCPT TO:<big@localhost>'), /^250/);
            assert.match(await s.cmd('DATA'), /^354/);
            assert.match(await s.send([...message('by-data', SIZE), Buffer.from('.\r\n')]), /^250/);
          });
          const byBdat = await growthOf('BDAT', 3, async () => {
            assert.match(await s.cmd('MAIL FROM:<big@localhost>'), /^250/);
            assert.match(await s.cmd('RCPT TO:<big@localhost>'), /^250/);
            for (const command of bdatChunks([...message('by-bdat', SIZE)], MB)) assert.match(await s.send(command), /^250/);
          });
          for (const [name, growth] of [['DATA', byData], ['BDAT', byBdat]] as const) {
            assert.ok(growth < 18 * MB, `${name}: RSS grew by ${(growth / MB).toFixed(1)} MB`);
          }
        } finally {
          s.close();
        }

        let checked = 0;
        for (const f of await site.mailbox('big@localhost')) {
          const text = readFileSync(f, 'latin1');
          const marker = /^Subject: (.*)$/m.exec(text)?.[1];
          if (marker !== 'by-data' && marker !== 'by-bdat') continue;
          checked++;
          // what was sent, whole and in order, after the trace fields this node added
          const start = text.indexOf('From: Big <big@localhost>\n');
          assert.ok(start > 0, `${marker}: the sent header is there`);
          assert.equal(createHash('sha256').update(text.slice(start), 'latin1').digest('hex'), digestAsStored(marker, SIZE), `${marker}: delivered as sent`);
        }
        assert.equal(checked, 2);
        // delivered and gone from the queue: no chunk left
        await waitFor('the queue to drain', async () => (await scalar(db.url, 'SELECT count(*) AS n FROM queue_messages')) === 0, 30_000);
        assert.equal(await scalar(db.url, 'SELECT count(*) AS n FROM queue_body_chunks'), 0);
      } finally {
        await site.destroy();
        await rm(dataDir, { recursive: true, force: true });
      }
    }));

  void test('a client gone and a kill -9 in the middle of a 20 MB DATA: what was acknowledged is delivered, nothing is left of the cut ones', () =>
    withTestDatabase(async (db) => {
      const dataDir = await mkdtemp(join(tmpdir(), 'correio-t94k-'));
      const site = await pgSite(db.url, dataDir);
      try {
        // the streaming connection's transaction has written (it has a transaction id)
        const writing = `SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = 'correio queue bodies' AND backend_xid IS NOT NULL`;
        /** DATA of 20 MB on `c`, stopped when `stop()` says so */
        const cut = (c: Awaited<ReturnType<typeof session>>, stop: () => boolean): Promise<string> =>
          c.send((function* () {
            for (const b of message('cut', SIZE)) {
              if (stop()) return;
              yield b;
            }
          })());
        // a client that goes away in the middle of DATA: the node rolls its draft back at once
        const gone = await session(site.port);
        assert.match(await gone.cmd('MAIL FROM:<big@localhost>'), /^250/);
        assert.match(await gone.cmd('RCPT TO:<big@localhost>'), /^250/);
        assert.match(await gone.cmd('DATA'), /^354/);
        let left = false;
        void cut(gone, () => left).catch(() => undefined);
        await waitFor('chunks being written', async () => (await scalar(db.url, writing, [db.name])) > 0, 60_000);
        left = true;
        gone.close();
        await waitFor('the draft of the client that left to be rolled back', async () => (await scalar(db.url, writing, [db.name])) === 0, 30_000);
        assert.equal(await scalar(db.url, 'SELECT count(*) AS n FROM queue_body_chunks'), 0);

        const s = await session(site.port);
        // acknowledged; the node may die before it delivers it
        assert.match(await s.cmd('MAIL FROM:<big@localhost>'), /^250/);
        assert.match(await s.cmd('RCPT TO:<big@localhost>'), /^250/);
        assert.match(await s.cmd('DATA'), /^354/);
        assert.match(await s.send([...message('acknowledged', 64 * 1024), Buffer.from('.\r\n')]), /^250/);
        assert.match(await s.cmd('MAIL FROM:<big@localhost>'), /^250/);
        assert.match(await s.cmd('RCPT TO:<big@localhost>'), /^250/);
        assert.match(await s.cmd('DATA'), /^354/);
        let killed = false;
        const sending = cut(s, () => killed);
        await waitFor('chunks being written', async () => (await scalar(db.url, writing, [db.name])) > 0, 60_000);
        await site.kill9();
        killed = true;
        s.close();
        void sending.catch(() => undefined); // its writes wait for a drain that never comes
        // PostgreSQL rolls back the transaction of the closed connection
        await waitFor('the cut transaction to end', async () => (await scalar(db.url, `SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = 'correio queue bodies'`, [db.name])) === 0, 30_000);
        assert.equal(await scalar(db.url, 'SELECT count(*) AS n FROM queue_body_chunks'), 0, 'no chunk of the cut message');
        assert.ok((await scalar(db.url, 'SELECT count(*) AS n FROM queue_messages')) <= 1, 'only the acknowledged message can be queued');

        await site.restart();
        const delivered = await site.waitForMessages('big@localhost', 1, 60_000);
        await waitFor('the queue to drain', async () => (await scalar(db.url, 'SELECT count(*) AS n FROM queue_messages')) === 0, 30_000);
        const subjects = (await site.mailbox('big@localhost')).map((f) => /^Subject: (.*)$/m.exec(readFileSync(f, 'latin1'))?.[1]);
        assert.deepEqual(subjects, ['acknowledged'], `delivered: ${delivered.length}`);
        assert.equal(await scalar(db.url, 'SELECT count(*) AS n FROM queue_body_chunks'), 0);
        assert.equal(await scalar(db.url, 'SELECT count(*) AS n FROM queue_bodies'), 0);
      } finally {
        await site.destroy();
        await rm(dataDir, { recursive: true, force: true });
      }
    }));
});
