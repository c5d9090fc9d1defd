/**
 * t-60 (IMAP big message, CATENATE): a 20 MiB message dropped into a `correio serve` INBOX is
 * CATENATEd (RFC 4469) into another folder over a raw socket, after a TEXT part: the copy is the
 * part and the message octet for octet (SHA-256), and a second CATENATE of its ;SECTION=TEXT is
 * that section; meanwhile the server's resident memory (sampled from /proc from an idle baseline,
 * test/helpers/process-stats rssDuring) grows by less than half the message. Before, the URL's
 * message was read whole and the result joined in memory (89-92 MB of growth, docs/performance.md
 * session 15); now the message's file is read as the store writes the new one. One window only:
 * a second one would start from the first's grown heap and pass on the old code. The server
 * runs with a 1 MB young generation.
 * Standards: RFC 4469 §5, RFC 5092.
 * Security: loopback only; test passwords.
 * Limitations: Maildir store only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { rssDuring, settled, withBigImapSite } from '../helpers/process-stats.js';

const MB = 1024 * 1024;
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** A message of about `size` octets whose every line differs; `header` and `text` its two sections. */
function message(size: number, id: string): { message: Buffer; text: Buffer } {
  const header = `From: Ana <ana@example.net>\r\nTo: big@localhost\r\nSubject: planilha ${id}\r\nMessage-ID: <${id}@example.net>\r\n\r\n`;
  const lines: string[] = [];
  for (let i = 0, n = 0; n < size; i++) {
    const line = `linha ${i} ${((i * 2654435761) % 4294967296).toString(36)} ${'dados'.repeat(i % 11)}\r\n`;
    lines.push(line);
    n += line.length;
  }
  const text = Buffer.from(lines.join(''));
  return { message: Buffer.concat([Buffer.from(header), text]), text };
}

/** The octets of the first literal of a FETCH response. */
function literal(resp: Buffer): Buffer {
  const m = /~?\{(\d+)\}\r\n/.exec(resp.toString('latin1', 0, 2000));
  assert.ok(m, `a literal in ${resp.toString('latin1', 0, 200)}`);
  const at = m.index + m[0].length;
  return resp.subarray(at, at + Number(m[1]));
}

test('a 20 MiB message CATENATEd into another folder is copied octet for octet (and its TEXT section), the server growing by less than half of it', { skip: existsSync('/proc/self/status') ? false : 'needs /proc (Linux)' }, async (t) => {
  const big = message(20 * MB, 'grande');
  const small = message(2 * MB, 'pequena');
  await withBigImapSite('correio-t60c-', async (c, pid, inbox) => {
    await writeFile(join(inbox, 'new', '1765000000.M1P1.pequena'), small.message);
    await writeFile(join(inbox, 'new', '1765000001.M2P1.grande'), big.message);
    assert.match((await c.run('SELECT INBOX')).toString(), /\* 2 EXISTS/);
    const sizes = (await c.run('FETCH 1:2 (UID RFC822.SIZE)')).toString();
    const uidOf = (size: number): string => new RegExp(`UID (\\d+) RFC822.SIZE ${size}\\b|RFC822.SIZE ${size} UID (\\d+)`).exec(sizes)?.slice(1).find(Boolean) ?? assert.fail(sizes);
    assert.match((await c.run('CREATE Copia')).toString(), /OK/);
    const prefix = 'X-Copia: sim\r\n';
    const cat = async (uid: string, section = ''): Promise<string> => (await c.run(`APPEND Copia CATENATE (TEXT {${prefix.length}+}\r\n${prefix} URL "/INBOX/;UID=${uid}${section}")`)).toString();
    // every code path loaded before the baseline, with the 2 MiB message
    assert.match(await cat(uidOf(small.message.length)), /OK \[APPENDUID/);
    await settled(pid);
    let answer = '';
    const r = await rssDuring(pid, async () => {
      answer = await cat(uidOf(big.message.length));
      await settled(pid);
    });
    assert.match(answer, /OK \[APPENDUID \d+ \d+\]/);
    const growth = r.peak - r.baseline;
    t.diagnostic(`CATENATE of ${(big.message.length / MB).toFixed(1)} MB: RSS baseline ${(r.baseline / MB).toFixed(1)} MB, peak ${(r.peak / MB).toFixed(1)} MB, growth ${(growth / MB).toFixed(1)} MB`);
    const uid = /APPENDUID \d+ (\d+)/.exec(answer)?.[1] ?? assert.fail(answer);
    assert.match(await cat(uidOf(big.message.length), '/;SECTION=TEXT'), /OK \[APPENDUID/);
    assert.match((await c.run('SELECT Copia')).toString(), /OK/);
    const copy = literal(await c.run(`UID FETCH ${uid} (BODY.PEEK[])`));
    assert.equal(sha(copy), sha(Buffer.concat([Buffer.from(prefix), big.message])), 'the copy is the TEXT part and the message');

    const section = literal(await c.run('FETCH * (BODY.PEEK[])'));
    assert.equal(sha(section), sha(Buffer.concat([Buffer.from(prefix), big.text])), ";SECTION=TEXT gives the text");
    assert.ok(growth < big.message.length / 2, `CATENATE: RSS grew by ${(growth / MB).toFixed(1)} MB`);
  });
});
