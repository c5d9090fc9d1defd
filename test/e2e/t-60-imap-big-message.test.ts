/**
 * t-60 (IMAP big message): a 24 MiB message APPENDed by Python's imaplib to a `correio serve`
 * process and FETCHed back (BODY.PEEK[], then a partial BODY.PEEK[]<origin.length>) comes back
 * octet for octet (SHA-256), while the server's resident memory, sampled from /proc from an idle
 * baseline (test/helpers/process-stats rssDuring), grows less than the message: the literal goes
 * to the folder's tmp/ file as it arrives (append-stream) and the FETCH streams the file to the
 * socket (fetch-stream), where before each held the whole message (61–70 MB of growth for a
 * 20 MB message, issue 14). What such a transfer still grows the process by is the garbage of its
 * chunks (socket reads, line-end conversions) until a collection, which the message's size does
 * not set (append-stream has a collection made every 2 MB of literal, a full one per eighth of
 * the heap: reclaim-memory): 0.5–2.0 MB for the APPEND and 0.0–1.7 MB for the FETCH in 12 runs
 * beside two CPU-bound processes with a full one every 2 MB (until session 22), 2.4 MB for the
 * APPEND since (young-generation collections alone: 5.2–6.0 MB). Each window opens once its
 * client is logged in: the LOGIN's scrypt works in 128·N·r = 16 MiB (directory/password), which
 * the malloc arena of the worker thread that ran it may keep, and with the LOGIN inside them the
 * windows grew by 16–19 MB in many runs (all 12 APPENDs and 7 FETCHes of 12 beside those two
 * processes), 25 MB once on a machine at load 15, over the bound. Hence the bound: less than the
 * message itself, which a server holding it adds at the least on top of that garbage. The
 * APPEND's window lasts until the server is idle again, so the text index's read of the new
 * message (bounded by core maxMessageReadWhole) falls in it; an 8 MiB cut of the message goes
 * both ways first, so that every code path is loaded before the baselines. Then an APPEND cut off
 * half-way by the client leaves no file in tmp/ and no message, after its first megabytes were
 * seen arriving in tmp/. The server runs with a 1 MB young generation
 * (`--max-semi-space-size=1`, as the other t-60 tests).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rssDuring, settled, startBigSite } from '../helpers/process-stats.js';
import { runPython } from '../helpers/python.js';

const MB = 1024 * 1024;

/** ~24 MiB of CRLF text whose every line differs (a shifted or lost chunk changes the hash). */
function bigMessage(): Buffer {
  const parts = ['From: Ana <ana@example.net>\r\nTo: big@localhost\r\nSubject: planilha grande\r\nMessage-ID: <big@example.net>\r\n\r\n'];
  for (let i = 0, n = 0; n < 24 * MB; i++) {
    const line = `linha ${i} ${((i * 2654435761) % 4294967296).toString(36)} ${'dados'.repeat(i % 11)}\r\n`;
    parts.push(line);
    n += line.length;
  }
  return Buffer.from(parts.join(''));
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

const script = `
import hashlib, imaplib, os, sys, time
port, what, path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
m = imaplib.IMAP4('127.0.0.1', port)
m.login('big@localhost', 'secret')
if len(sys.argv) > 4:
    # logged in: the measured window opens when the test says go
    open(sys.argv[4] + '.ready', 'w').close()
    while not os.path.exists(sys.argv[4] + '.go'):
        time.sleep(0.01)
if what == 'append':
    typ, data = m.append('INBOX', r'(\\Seen)', None, open(path, 'rb').read())
    print(typ, data[0].decode())
else:
    m.select('INBOX', readonly=True)
    typ, data = m.fetch('1', '(BODY.PEEK[])')
    print(typ, hashlib.sha256(data[0][1]).hexdigest())
    typ, data = m.fetch('1', '(BODY.PEEK[]<1000000.2000000>)')
    print(typ, hashlib.sha256(data[0][1]).hexdigest(), len(data[0][1]))
m.logout()
`;

test('a 24 MiB message APPENDed and FETCHed with imaplib round-trips, and the server grows less than the message; a cut APPEND leaves no file', { skip: existsSync('/proc/self/status') ? false : 'needs /proc (Linux)' }, async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'correio-t60i-'));
  const { site, port: imapPort } = await startBigSite(dataDir, 'imap');
  const message = bigMessage();
  const file = join(dataDir, 'big.eml');
  await writeFile(file, message);
  const inbox = join(dataDir, 'mail', 'localhost', 'big');
  try {
    const pid = site.child!.pid!;
    // every code path of both commands loaded before the baselines, with an 8 MiB cut of the
    // message (streamed both ways too)
    const small = join(dataDir, 'small.eml');
    await writeFile(small, message.subarray(0, message.indexOf('\r\n', 8 * MB) + 2));
    await runPython(script, [String(imapPort), 'append', small]);
    await runPython(script, [String(imapPort), 'fetch', small]);
    await rm(join(inbox, 'cur'), { recursive: true });
    await rm(join(inbox, 'new'), { recursive: true, force: true });
    await runPython(`import imaplib\nm = imaplib.IMAP4('127.0.0.1', ${imapPort})\nm.login('big@localhost', 'secret')\nm.select('INBOX')\nm.logout()`, []).catch(() => undefined);
    // each command's window opens once its client is logged in: the LOGIN's scrypt takes
    // 128·N·r = 16 MiB (directory/password), which a worker thread's malloc arena may keep
    const measured = async (what: 'append' | 'fetch', after?: () => Promise<void>): Promise<{ out: string; r: { baseline: number; peak: number } }> => {
      const gate = join(dataDir, `gate-${what}`);
      let failed: unknown;
      const run = runPython(script, [String(imapPort), what, file, gate]);
      run.catch((err: unknown) => (failed = err));
      for (let i = 0; !existsSync(`${gate}.ready`); i++) {
        if (failed !== undefined) throw failed;
        assert.ok(i < 600, `${what}: the client logged in`);
        await new Promise((r) => setTimeout(r, 100));
      }
      let out = '';
      const r = await rssDuring(pid, async () => {
        await writeFile(`${gate}.go`, '');
        out = await run;
        await after?.();
      });
      return { out, r };
    };
    const { out: appended, r: append } = await measured('append', () => settled(pid));
    assert.match(appended, /^OK \[APPENDUID \d+ \d+\]/);
    const { out: fetched, r: fetch } = await measured('fetch');
    const [whole, part] = fetched.trim().split('\n');
    assert.equal(whole, `OK ${sha256(message)}`, 'BODY.PEEK[] gives the message as APPENDed');
    assert.equal(part, `OK ${sha256(message.subarray(1_000_000, 3_000_000))} 2000000`, 'BODY.PEEK[]<1000000.2000000> gives that range');
    const windows = [['APPEND', append], ['FETCH', fetch]] as const;
    for (const [what, r] of windows) t.diagnostic(`${what} of ${(message.length / MB).toFixed(1)} MB: RSS baseline ${(r.baseline / MB).toFixed(1)} MB, peak ${(r.peak / MB).toFixed(1)} MB, growth ${((r.peak - r.baseline) / MB).toFixed(1)} MB`);
    for (const [what, r] of windows) assert.ok(r.peak - r.baseline < message.length, `${what}: RSS grew by ${((r.peak - r.baseline) / MB).toFixed(1)} MB`);

    // an APPEND the client cuts off: its octets were arriving in tmp/, and nothing stays
    const tmpFiles = async (): Promise<number[]> => Promise.all((await readdir(join(inbox, 'tmp'))).map(async (n) => (await stat(join(inbox, 'tmp', n)).catch(() => ({ size: 0 }))).size));
    const socket = net.connect(imapPort, '127.0.0.1');
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    socket.write(`a LOGIN big@localhost secret\r\nb APPEND INBOX {${message.length}+}\r\n`);
    socket.write(message.subarray(0, 8 * MB));
    const waitFor = async (what: string, ok: () => Promise<boolean>): Promise<void> => {
      for (let i = 0; i < 600 && !(await ok()); i++) await new Promise((r) => setTimeout(r, 100));
      assert.ok(await ok(), what);
    };
    await waitFor('the literal arriving in tmp/', async () => (await tmpFiles()).some((s) => s >= 4 * MB));
    socket.destroy();
    await waitFor('tmp/ empty after the client went', async () => (await tmpFiles()).length === 0);
    const names = [...(await readdir(join(inbox, 'cur'))), ...(await readdir(join(inbox, 'new')))];
    assert.equal(names.length, 1, `only the message APPENDed whole: ${names.join(' ')}`);
  } finally {
    await site.destroy();
    await rm(dataDir, { recursive: true, force: true });
  }
});
