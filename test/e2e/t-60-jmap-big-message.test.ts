/**
 * t-60 (JMAP indexes): a 20 MB message is read for JMAP's full-text and conversation indexes
 * only up to its first 256 KiB (issue 14: reading and parsing it whole grew the server by ~80 MB in
 * the background after its delivery). A `correio serve` process with HTTP gets a 20 MB message
 * dropped into the user's Maildir (as another delivery agent would), then an Email/query that
 * waits for the indexes (a view waits for up to 1,000 new messages to be read) while the
 * process's resident memory is sampled from /proc, from an idle baseline until the server is idle
 * again: whether the indexes were fed by that query or by the background indexer, the read falls
 * in the window, so the bound does not depend on timing. Reading the message whole grew RSS by
 * 102.7 MB here; its first 256 KiB, by 1.2 MB (the message's name carries its size, W=: one
 * without it is read through once by the folder listing to size it, ~9 MB more, not JMAP's). The server runs with a 1 MB young generation
 * (`--max-semi-space-size=1`, as t-60's streamed signing test, for the same reason). Then the
 * message is found by its subject and by a word at the start of its body, and its thread is its
 * conversation's; a word only at its end is not found (docs/web.md).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, open, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rssDuring, settled, startBigSite } from '../helpers/process-stats.js';

const MB = 1024 * 1024;

const auth = `Basic ${Buffer.from('big@localhost:secret').toString('base64')}`;
const using = ['urn:ietf:params:jmap:core', 'urn:ietf:params:jmap:mail'];

/**
 * A message into the Maildir's new/ as a delivery agent puts it (written in tmp/, then renamed),
 * its sizes in the name as correio's and Dovecot's deliveries give them (S= octets, W= with CRLF).
 */
async function drop(maildir: string, base: string, parts: (Buffer | string)[]): Promise<void> {
  const octets = parts.reduce((n, p) => n + Buffer.byteLength(p), 0);
  const lines = parts.reduce((n, p) => n + (typeof p === 'string' ? p.split('\n').length - 1 : p.toString('latin1').split('\n').length - 1), 0);
  const name = `${base},S=${octets},W=${octets + lines}`;
  const tmp = join(maildir, 'tmp', name);
  const f = await open(tmp, 'w');
  try {
    for (const p of parts) await f.write(typeof p === 'string' ? Buffer.from(p) : p);
  } finally {
    await f.close();
  }
  await rename(tmp, join(maildir, 'new', name));
}

test('a 20 MB message is read for the JMAP indexes only up to its first 256 KiB: RSS grows less than 12 MB, and it is found by its subject and the start of its body', { skip: existsSync('/proc/self/status') ? false : 'needs /proc (Linux)' }, async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'correio-t60j-'));
  const { site, port: http } = await startBigSite(dataDir, 'http');
  const api = async (calls: unknown[]): Promise<[string, Record<string, unknown>, string][]> => {
    const res = await fetch(`http://127.0.0.1:${http}/jmap/api`, { method: 'POST', headers: { Authorization: auth, 'Content-Type': 'application/json' }, body: JSON.stringify({ using, methodCalls: calls }) });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { methodResponses: [string, Record<string, unknown>, string][] };
    for (const r of body.methodResponses) assert.notEqual(r[0], 'error', JSON.stringify(r[1]));
    return body.methodResponses;
  };
  const accountOf = async (): Promise<string> => {
    const res = await fetch(`http://127.0.0.1:${http}/jmap/session`, { headers: { Authorization: auth } });
    return Object.keys(((await res.json()) as { accounts: Record<string, unknown> }).accounts)[0];
  };
  const query = async (accountId: string, filter: Record<string, unknown>): Promise<string[]> => (await api([['Email/query', { accountId, filter }, 'q']]))[0][1].ids as string[];
  try {
    const pid = site.child!.pid!;
    const maildir = join(dataDir, 'mail', 'localhost', 'big');
    for (const sub of ['tmp', 'new', 'cur']) await mkdir(join(maildir, sub), { recursive: true });
    const accountId = await accountOf();
    // the conversation the big message answers, and every code path loaded before the baseline
    await drop(maildir, '1700000000.M1P1.first', ['From: Ana <ana@example.net>\nTo: big@localhost\nSubject: planilhas\nMessage-ID: <first@example.net>\n\nsegue a primeira parte\n']);
    assert.equal((await query(accountId, { text: 'primeira' })).length, 1);
    const { baseline, peak } = await rssDuring(pid, async () => {
      const line = Buffer.from(`${'dados '.repeat(11)}x\n`.repeat(1024));
      const lines: Buffer[] = [];
      for (let n = 0; n < 20 * MB; n += line.length) lines.push(line);
      await drop(maildir, '1700000001.M2P1.big', [
        'From: Ana <ana@example.net>\nTo: big@localhost\nSubject: Re: planilhas anexas\nMessage-ID: <big@example.net>\nIn-Reply-To: <first@example.net>\nReferences: <first@example.net>\n\n',
        'inicioquente aqui\n',
        ...lines,
        'finalfrio aqui\n',
      ]);
      // the view waits for the indexes to read the new message (or for the background indexer doing it)
      assert.equal((await query(accountId, {})).length, 2);
      await settled(pid);
    });
    const growth = peak - baseline;
    t.diagnostic(`RSS baseline ${(baseline / MB).toFixed(1)} MB, peak ${(peak / MB).toFixed(1)} MB, growth ${(growth / MB).toFixed(1)} MB`);
    assert.ok(growth < 12 * MB, `RSS grew by ${(growth / MB).toFixed(1)} MB`);
    // what such a message is found by: its header fields and the text in its first 256 KiB
    const [big] = await query(accountId, { subject: 'anexas' });
    assert.ok(big, 'found by its subject');
    assert.deepEqual(await query(accountId, { text: 'inicioquente' }), [big], 'found by a word at the start of its body');
    assert.deepEqual(await query(accountId, { from: 'ana@example.net' }).then((ids) => ids.includes(big)), true, 'found by its sender');
    assert.deepEqual(await query(accountId, { text: 'finalfrio' }), [], 'a word only at its end is not in the index');
    const got = (await api([['Email/get', { accountId, ids: [big], properties: ['threadId'] }, 'g'], ['Email/query', { accountId, filter: { text: 'primeira' } }, 'f'], ['Email/get', { accountId, '#ids': { resultOf: 'f', name: 'Email/query', path: '/ids' }, properties: ['threadId'] }, 'h']]));
    const threadOf = (r: [string, Record<string, unknown>, string] | undefined): string => ((r?.[1].list as { threadId: string }[])[0]).threadId;
    assert.equal(threadOf(got.find((r) => r[2] === 'g')), threadOf(got.find((r) => r[2] === 'h')), 'in the conversation it answers (its References)');
  } finally {
    await site.destroy();
    await rm(dataDir, { recursive: true, force: true });
  }
});
