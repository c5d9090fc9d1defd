/**
 * t-60 (IMAP big message, SEARCH and SORT): a 40 MiB multipart/mixed message (a text part, a
 * 24 MiB attachment in base64, an 8 MiB quoted-printable text part) dropped into a `correio serve`
 * Maildir beside three small ones is searched, sorted and threaded over a raw socket: SEARCH by
 * header keys (HEADER, FROM, SUBJECT, SENTBEFORE), SORT by DATE, SUBJECT, FROM and DISPLAYFROM,
 * THREAD REFERENCES, and SEARCH BODY/TEXT (the message is over the text index's 8 MiB, so it is
 * read: its text parts streamed) give the answers the messages' fields and text call for, while
 * the server's resident memory (sampled from /proc from an idle baseline, test/helpers/process-stats
 * rssDuring) grows by less than half the message. Before issue 14's header reads each of these
 * read the message whole (message-reader `load`, 40 MB and more); now the header keys, SORT and
 * THREAD read its header block alone and BODY/TEXT its text parts through their decoders. Each
 * command runs three times in its window (a read whole of 40 MB freed between two 20 ms samples
 * would otherwise go unseen); a window over the bound is measured once more and the lesser
 * counts (t-60-imap-big-sections says why). The server runs with a 1 MB young generation
 * (`--max-semi-space-size=1`, as the other t-60 tests).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { rssDuring, settled, withBigImapSite } from '../helpers/process-stats.js';

const MB = 1024 * 1024;

function bigMessage(): Buffer {
  const b64 = randomBytes(24 * MB).toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 76) lines.push(b64.slice(i, i + 76));
  const qp: string[] = [];
  for (let i = 0, n = 0; n < 8 * MB; i++) {
    const line = `linha ${i} do relat=C3=B3rio ${'texto '.repeat(i % 9)}\r\n`;
    qp.push(line);
    n += line.length;
  }
  // a word cut by a soft line break near the end: found only decoded
  qp.push('fim: palavra=\r\nquebrada\r\n');
  return Buffer.concat([
    Buffer.from(
      'From: Ana <ana@example.net>\r\nTo: big@localhost\r\nSubject: anexo grande\r\nDate: Mon, 1 Dec 2025 10:00:00 +0000\r\nMessage-ID: <bigsearch@example.net>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="fronteira"\r\n\r\n' +
        '--fronteira\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSegue o anexo.\r\n--fronteira\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n',
    ),
    Buffer.from(lines.join('\r\n'), 'latin1'),
    Buffer.from('\r\n--fronteira\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n'),
    Buffer.from(qp.join('')),
    Buffer.from('--fronteira--\r\n'),
  ]);
}

const small = (from: string, subject: string, date: string, extra = ''): string => `From: ${from}\r\nTo: big@localhost\r\nSubject: ${subject}\r\nDate: ${date}\r\n${extra}\r\nPequena.\r\n`;

test('SEARCH by header and text keys, SORT and THREAD over a 40 MiB message: the answers its fields call for, the server growing by less than half of it', { skip: existsSync('/proc/self/status') ? false : 'needs /proc (Linux)' }, async (t) => {
  const big = bigMessage();
  await withBigImapSite('correio-t60q-', async (c, pid, maildir) => {
    // dropped in as another program would, the big one last: messages 1-3 are the small ones, 4 the big one
    const inbox = join(maildir, 'new');
    await writeFile(join(inbox, '1765000001.M1P1.zoe'), small('Zoe <zoe@example.net>', 'zebra', 'Sat, 1 Nov 2025 10:00:00 +0000'));
    await writeFile(join(inbox, '1765000002.M1P1.bia'), small('Bia <bia@example.net>', 'Re: anexo grande', 'Fri, 5 Dec 2025 10:00:00 +0000', 'In-Reply-To: <bigsearch@example.net>\r\n'));
    await writeFile(join(inbox, '1765000003.M1P1.carla'), small('Carla <carla@example.net>', 'abelha', 'Wed, 1 Oct 2025 10:00:00 +0000'));
    assert.match((await c.run('SELECT INBOX')).toString(), /\* 3 EXISTS/);
    await writeFile(join(inbox, '1765000004.M1P1.bigsearch'), big);
    assert.match((await c.run('NOOP')).toString(), /\* 4 EXISTS/);
    const windows: [string, number][] = [];
    /** runs `command` three times in an RSS window (twice when over the bound: the lesser counts), checking each answer */
    const measured = async (command: string, answer: RegExp): Promise<void> => {
      let growth = Infinity;
      for (let run = 0; run < 2 && growth >= big.length / 2; run++) {
        const r = await rssDuring(pid, async () => {
          for (let i = 0; i < 3; i++) {
            const got = (await c.run(command)).toString('latin1');
            assert.match(got, answer, `${command}: ${got}`);
          }
        });
        growth = Math.min(growth, r.peak - r.baseline);
        t.diagnostic(`${command}: RSS baseline ${(r.baseline / MB).toFixed(1)} MB, peak ${(r.peak / MB).toFixed(1)} MB, growth ${((r.peak - r.baseline) / MB).toFixed(1)} MB`);
      }
      windows.push([command, growth]);
    };
    await settled(pid);
    await measured('SEARCH HEADER Message-ID bigsearch', /\* SEARCH 4\r\n.*OK/s);
    await measured('SEARCH FROM ana SUBJECT anexo SENTBEFORE 2-Dec-2025', /\* SEARCH 4\r\n.*OK/s);
    await measured('SORT (DATE) UTF-8 ALL', /\* SORT 3 1 4 2\r\n.*OK/s);
    // base subjects: abelha, anexo grande (2 and 4: mailbox order), zebra
    await measured('SORT (SUBJECT) UTF-8 ALL', /\* SORT 3 2 4 1\r\n.*OK/s);
    await measured('SORT (REVERSE FROM) UTF-8 SENTSINCE 1-Nov-2025', /\* SORT 1 2 4\r\n.*OK/s);
    await measured('SORT (DISPLAYFROM) UTF-8 ALL', /\* SORT 4 2 3 1\r\n.*OK/s);
    await measured('THREAD REFERENCES UTF-8 ALL', /\* THREAD \(3\)\(1\)\(4 2\)\r\n.*OK/s);
    await measured('SEARCH BODY palavraquebrada', /\* SEARCH 4\r\n.*OK/s);
    // at most eight in a row: read to the end, found nowhere
    await measured(`SEARCH TEXT "${'texto '.repeat(9).trim()}"`, /\* SEARCH\r\n.*OK/s);
    await measured('SEARCH BODY bigsearch', /\* SEARCH\r\n.*OK/s);
    await measured('SEARCH TEXT bigsearch', /\* SEARCH 2 4\r\n.*OK/s);
    for (const [what, growth] of windows) assert.ok(growth < big.length / 2, `${what}: RSS grew by ${(growth / MB).toFixed(1)} MB for a ${(big.length / MB).toFixed(1)} MB message`);
  });
});
