/**
 * t-96: a big message into a PostgreSQL mailbox and out again, never held whole by the store
 * (issue 17). A `correio serve` process keeps its queue and its mailboxes in PostgreSQL; a 20 MB
 * message goes in by SMTP and is delivered locally (streamed from the queue's chunk rows into
 * the mailbox's), then read by POP3 RETR, IMAP FETCH BODY[] and a partial FETCH. The server's
 * resident memory is sampled from /proc over two deliveries and two RETRs: it must grow by
 * less than 18 MB over its level before one delivery and one RETR at least (t-94's
 * bound; a body held whole adds its 20 MB at least, every time). IMAP FETCH of BODY[] streams
 * from the store (server/imap/fetch-stream.ts), but its chunks outlive a few scavenges and a
 * first FETCH grows the server by ~16 MB under load (t-60-imap-big-message), so its growth is
 * only reported. Every copy is byte-identical: RETR and BODY[]
 * give the same octets, ending with what was sent, and the partial is BODY[]'s slice. An
 * expunge of the message leaves no chunk.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { bdatChunks, rssDuring, startSmallHeapSite } from '../helpers/process-stats.js';
import { freePort } from '../helpers/net.js';
import { waitFor } from '../helpers/site.js';
import { pgScalar, pgUnavailable, withTestDatabase } from '../helpers/pg.js';

const MB = 1024 * 1024;
const SIZE = 20 * MB;
const pgSkip = await pgUnavailable();
const skip = pgSkip ?? (existsSync('/proc/self/status') ? false : 'needs /proc (Linux)');

/** A socket read by what the test waits for: a pattern in what came, or a count of octets. */
function wire(port: number): { send(data: Buffer | string): Promise<void>; upTo(re: RegExp): Promise<Buffer>; through(marker: string): Promise<Buffer>; octets(n: number): Promise<Buffer>; startTls(): Promise<void>; close(): void } {
  let sock: net.Socket = net.connect(port, '127.0.0.1');
  let pending: Buffer[] = [];
  let size = 0;
  let wake: (() => void) | undefined;
  const attach = (s: net.Socket): void => {
    s.on('data', (d: Buffer) => {
      pending.push(d);
      size += d.length;
      wake?.();
    });
    s.on('close', () => wake?.());
    s.on('error', () => wake?.());
  };
  attach(sock);
  const more = async (): Promise<void> => {
    if (sock.destroyed) throw new Error('connection closed');
    await new Promise<void>((r) => (wake = r));
  };
  const take = (n: number): Buffer => {
    const all = pending.length === 1 ? pending[0] : Buffer.concat(pending);
    pending = n < all.length ? [all.subarray(n)] : [];
    size = all.length - n;
    return all.subarray(0, n);
  };
  return {
    send: async (data) => {
      if (!sock.write(data)) await new Promise((r) => sock.once('drain', r));
    },
    upTo: async (re) => {
      for (;;) {
        // the pattern is looked for in the text of the last 64 KiB only (a reply line, a literal's announcement)
        if (pending.length > 1) pending = [Buffer.concat(pending)];
        const head = pending[0]?.subarray(0, 64 * 1024).toString('latin1') ?? '';
        const m = re.exec(head);
        if (m) return take(m.index + m[0].length);
        await more();
      }
    },
    through: async (marker) => {
      for (let from = 0; ; ) {
        if (pending.length > 1) pending = [Buffer.concat(pending)];
        const at = pending[0]?.indexOf(marker, from, 'latin1') ?? -1;
        if (at >= 0) return take(at + marker.length);
        from = Math.max(0, size - marker.length);
        await more();
      }
    },
    octets: async (n) => {
      while (size < n) await more();
      return take(n);
    },
    startTls: async () => {
      const plain = sock;
      plain.removeAllListeners('data');
      sock = tls.connect({ socket: plain, rejectUnauthorized: false });
      attach(sock);
      await new Promise((r) => sock.once('secureConnect', r));
    },
    close: () => sock.destroy(),
  };
}

const header = Buffer.from('From: Big <big@localhost>\r\nTo: big@localhost\r\nSubject: big into PostgreSQL\r\n\r\n');

/** The message: a header, then `size` octets of 72-octet lines. */
function message(size: number): Buffer[] {
  const block = Buffer.from(`line ${'z'.repeat(65)}\r\n`.repeat(1024));
  const out = [header];
  for (let sent = 0; sent < size; sent += block.length) out.push(block);
  return out;
}

void describe('t-96 a 20 MB message into a PostgreSQL mailbox and out by POP3 and IMAP', { skip }, () => {
  void test('delivered and read by RETR with RSS growing less than 18 MB; FETCH BODY[] and a partial byte-identical; expunged with its chunks', () =>
    withTestDatabase(async (db) => {
      // picked afresh each time startSiteProcess starts serve over (a port taken meanwhile)
      let [imapPort, pop3Port] = [0, 0];
      const site = await startSmallHeapSite({
        domains: ['localhost'],
        users: ['big@localhost'],
        smtp: { max_message_size: '50MB' },
        tables: async () => {
          [imapPort, pop3Port] = [await freePort(), await freePort()];
          return (
            `[storage]\nurl = ${JSON.stringify(db.url)}\nlease = "3s"\npoll_interval = "1s"\n[metrics]\nlisten = []\n` +
            `[imap]\nlisten = ["127.0.0.1:${imapPort}"]\n[pop3]\nlisten = ["127.0.0.1:${pop3Port}"]\n`
          );
        },
      });
      const pid = site.child!.pid!;
      const delivered = (n: number) => waitFor(`${n} messages in the mailbox`, async () => (await pgScalar(db.url, 'SELECT count(*) AS n FROM mail_messages')) >= n, 120_000);
      const smtp = wire(site.port);
      const reply = () => smtp.upTo(/(?:^|\r\n)\d{3} [^\r\n]*\r\n/);
      const sendMail = async (pieces: Buffer[]): Promise<void> => {
        await smtp.send('MAIL FROM:<big@localhost>\r\n');
        assert.match((await reply()).toString(), /^250/);
        await smtp.send('RCPT TO:<big@localhost>\r\n');
        assert.match((await reply()).toString(), /^250/);
        for (const command of bdatChunks(pieces, MB)) {
          for (const b of command) await smtp.send(b);
          assert.match((await reply()).toString(), /^250/);
        }
      };
      try {
        assert.match((await reply()).toString(), /^220/);
        await smtp.send('EHLO client.localhost\r\n');
        assert.match((await reply()).toString(), /CHUNKING/);
        // warm up: a message over the 1 MiB chunk size, so the streamed paths are loaded before the baseline
        await sendMail(message(2 * MB));
        await delivered(1);

        const growth = async (name: string, run: () => Promise<void>): Promise<number> => {
          const { baseline, peak } = await rssDuring(pid, run);
          process.stdout.write(`# ${name}: RSS baseline ${(baseline / MB).toFixed(1)} MB, peak ${(peak / MB).toFixed(1)} MB, growth ${((peak - baseline) / MB).toFixed(1)} MB\n`);
          return peak - baseline;
        };
        const sent = message(SIZE);
        // twice, the least growth bounded, as for RETR below (15 and 25 MB were seen under load, when the next was 0-2 MB)
        const byDelivery: number[] = [];
        for (let i = 0; i < 2; i++) {
          byDelivery.push(
            await growth(`SMTP in, delivered into the PostgreSQL mailbox (${i + 1})`, async () => {
              await sendMail(sent);
              await delivered(2 + i);
            }),
          );
        }
        assert.equal(await pgScalar(db.url, 'SELECT count(*) AS n FROM mail_bodies WHERE chunk_key IS NOT NULL'), 3, 'every body in chunk rows (each has its own trace fields)');
        assert.equal(await pgScalar(db.url, 'SELECT count(*) AS n FROM mail_messages'), 3);

        // POP3 RETR of the 20 MB message (the second)
        const pop = wire(pop3Port);
        const popLine = () => pop.upTo(/\r\n/);
        assert.match((await popLine()).toString(), /^\+OK/);
        await pop.send('STLS\r\n');
        assert.match((await popLine()).toString(), /^\+OK/);
        await pop.startTls();
        await pop.send('USER big@localhost\r\n');
        assert.match((await popLine()).toString(), /^\+OK/);
        await pop.send('PASS secret\r\n');
        assert.match((await popLine()).toString(), /^\+OK/);
        let retr: Buffer = Buffer.alloc(0);
        // twice: the least growth is bounded (a TLS session's freed buffers once raised one
        // run's peak by 22 MB; a body held whole raises every run's by its 20 MB at least)
        const byRetr: number[] = [];
        for (let i = 0; i < 2; i++) {
          byRetr.push(
            await growth(`POP3 RETR (${i + 1})`, async () => {
              await pop.send('RETR 2\r\n');
              const first = (await popLine()).toString();
              assert.match(first, /^\+OK/);
              const stuffed = await pop.through('\r\n.\r\n');
              // undo the dot-stuffing (RFC 1939 §3): the terminating line off, a leading dot off each line
              retr = Buffer.from(stuffed.subarray(0, stuffed.length - 3).toString('latin1').replace(/(^|\r\n)\./g, '$1'), 'latin1');
            }),
          );
        }
        await pop.send('QUIT\r\n');
        await popLine();
        pop.close();

        // IMAP FETCH BODY[] and a partial of the same message
        const imap = wire(imapPort);
        const tagged = (tag: string) => imap.upTo(new RegExp(`(?:^|\\r\\n)${tag} [^\\r\\n]*\\r\\n`));
        await imap.upTo(/^\* OK[^\r\n]*\r\n/);
        await imap.send('a LOGIN big@localhost secret\r\n');
        assert.match((await tagged('a')).toString(), /a OK/);
        await imap.send('b SELECT INBOX\r\n');
        assert.match((await tagged('b')).toString(), /b OK/);
        const literal = async (tag: string, command: string): Promise<Buffer> => {
          await imap.send(`${tag} ${command}\r\n`);
          const n = Number(/\{(\d+)\}\r\n$/.exec((await imap.upTo(/\{\d+\}\r\n/)).toString('latin1'))![1]);
          const octets = await imap.octets(n);
          assert.match((await tagged(tag)).toString(), new RegExp(`${tag} OK`));
          return octets;
        };
        let whole: Buffer = Buffer.alloc(0);
        await growth('IMAP FETCH BODY[] (streamed; reported only)', async () => {
          whole = await literal('c', 'FETCH 2 BODY.PEEK[]');
        });
        const part = await literal('d', 'FETCH 2 BODY.PEEK[]<5000000.3000000>');
        await imap.send('e LOGOUT\r\n');
        imap.close();

        // byte-identical: what was sent, after the trace fields the node added; RETR the same octets; the partial a slice
        const start = whole.indexOf(header);
        assert.ok(start > 0, 'the sent header is there');
        const sentDigest = createHash('sha256');
        for (const b of sent) sentDigest.update(b);
        assert.equal(createHash('sha256').update(whole.subarray(start)).digest('hex'), sentDigest.digest('hex'), 'FETCH BODY[]: delivered as sent');
        assert.equal(retr.length, whole.length);
        assert.ok(retr.equals(whole), 'RETR gives the octets FETCH BODY[] gives');
        assert.ok(part.equals(whole.subarray(5_000_000, 8_000_000)), 'the partial FETCH is the slice of BODY[]');
        assert.equal(Number(await pgScalar(db.url, 'SELECT max(size) AS n FROM mail_messages')), whole.length);

        for (const [name, g] of [['delivery', Math.min(...byDelivery)], ['RETR', Math.min(...byRetr)]] as const) {
          assert.ok(g < 18 * MB, `${name}: RSS grew by ${(g / MB).toFixed(1)} MB`);
        }

        // expunged by POP3 (DELE and QUIT): both messages, their bodies and chunks gone
        const del = wire(pop3Port);
        const delLine = () => del.upTo(/\r\n/);
        await delLine();
        await del.send('STLS\r\n');
        assert.match((await delLine()).toString(), /^\+OK/);
        await del.startTls();
        for (const line of ['USER big@localhost', 'PASS secret', 'DELE 1', 'DELE 2', 'DELE 3', 'QUIT']) {
          await del.send(`${line}\r\n`);
          assert.match((await delLine()).toString(), /^\+OK/, line);
        }
        del.close();
        assert.equal(await pgScalar(db.url, 'SELECT count(*) AS n FROM mail_messages'), 0);
        await waitFor('the bodies to be collected', async () => (await pgScalar(db.url, 'SELECT count(*) AS n FROM mail_bodies')) === 0, 30_000);
        assert.equal(await pgScalar(db.url, 'SELECT count(*) AS n FROM mail_body_chunks'), 0);
        assert.equal(await pgScalar(db.url, 'SELECT count(*) AS n FROM queue_body_chunks'), 0);
      } finally {
        smtp.close();
        await site.destroy();
      }
    }));
});
