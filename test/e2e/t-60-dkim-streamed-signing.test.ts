/**
 * t-60 (streamed): a streamed body is DKIM-signed without being held whole (issue 15). A 20 MB message is
 * submitted with AUTH through a `correio serve` process, once with DATA and once with BDAT,
 * while the process's resident memory is sampled from /proc: RSS must grow by less than 18 MB
 * over its level before each transfer (holding the body whole, as intake did before, adds at
 * least its 20 MB, twice that while it is joined). The server runs with a 1 MB young
 * generation (`--max-semi-space-size=1`): with V8's default, the garbage of any streamed
 * transfer (signed or not) let RSS grow by 29–43 MB before a collection, which would hide
 * whether the body is held; with it, 8.6–12.6 MB were measured (the bound leaves room
 * for that spread and stays under the 20 MB a held body would add). Each delivered copy must carry
 * exactly one DKIM-Signature that dkimpy (python3-dkim, an independent implementation) verifies.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import tls from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bdatChunks, rssDuring, startSmallHeapSite } from '../helpers/process-stats.js';
import { freePort } from '../helpers/net.js';
import { python3, pythonWithModule } from '../helpers/python.js';
import { generateDkimKey } from '../../src/policy/index.js';
import { tlsCertFile, tlsKeyFile } from './t-20-smtp-tls-client.js';

const MB = 1024 * 1024;
const SIZE = 20 * MB;

/** A submission session over STARTTLS, logged in as big@localhost. */
async function session(port: number): Promise<{ cmd(line: string | Buffer): Promise<string>; send(data: Buffer | (() => Iterable<Buffer>)): Promise<string>; close(): void }> {
  let sock: net.Socket | tls.TLSSocket = net.connect(port, '127.0.0.1');
  let buf = '';
  let waiter: (() => void) | undefined;
  const onData = (d: Buffer): void => {
    buf += d.toString('latin1');
    waiter?.();
  };
  sock.on('data', onData);
  const reply = async (): Promise<string> => {
    for (;;) {
      const m = /(?:^|\r\n)(\d{3}) [^\r\n]*\r\n/.exec(buf);
      if (m) {
        const end = m.index + m[0].length;
        const r = buf.slice(0, end);
        buf = buf.slice(end);
        return r;
      }
      await new Promise<void>((r) => (waiter = r));
    }
  };
  const write = async (data: Buffer | string): Promise<void> => {
    if (!sock.write(data)) await new Promise((r) => sock.once('drain', r));
  };
  const cmd = async (line: string | Buffer): Promise<string> => {
    await write(typeof line === 'string' ? line + '\r\n' : line);
    return reply();
  };
  assert.match(await reply(), /^220/);
  assert.match(await cmd('EHLO client.localhost'), /250/);
  assert.match(await cmd('STARTTLS'), /^220/);
  sock.off('data', onData);
  sock = tls.connect({ socket: sock, rejectUnauthorized: false });
  await new Promise((r) => sock.once('secureConnect', r));
  sock.on('data', onData);
  assert.match(await cmd('EHLO client.localhost'), /CHUNKING/);
  assert.match(await cmd(`AUTH PLAIN ${Buffer.from('\0big@localhost\0secret').toString('base64')}`), /^235/);
  const send = async (data: Buffer | (() => Iterable<Buffer>)): Promise<string> => {
    if (Buffer.isBuffer(data)) await write(data);
    else for (const b of data()) await write(b);
    return reply();
  };
  return { cmd, send, close: () => sock.destroy() };
}

/** The message: a header, then `size` octets of 72-octet lines, generated as it is sent. */
function* message(marker: string, size: number): Iterable<Buffer> {
  yield Buffer.from(`From: Big <big@localhost>\r\nTo: big@localhost\r\nSubject: ${marker}\r\n\r\n`);
  const block = Buffer.from(`${marker} ${'x'.repeat(70 - marker.length - 1)}\r\n`.repeat(1024));
  for (let sent = 0; sent < size; sent += block.length) yield block;
}

const headerLength = (marker: string): number => `From: Big <big@localhost>\r\nTo: big@localhost\r\nSubject: ${marker}\r\n\r\n`.length;

test('a 20 MB message submitted by DATA and by BDAT is signed with RSS growing less than 18 MB, and dkimpy verifies it', { skip: existsSync('/proc/self/status') ? false : 'needs /proc (Linux)' }, async (t) => {
  const python = await pythonWithModule('dkim');
  if (!python) return t.skip('python3-dkim is not installed (apt-get install python3-dkim)');
  const dataDir = await mkdtemp(join(tmpdir(), 'correio-t60s-'));
  const key = generateDkimKey(dataDir, 'localhost', 'big', 'rsa-2048');
  const submission = await freePort();
  const site = await startSmallHeapSite({
    domains: ['localhost'],
    users: ['big@localhost'],
    dataDir,
    // one process: the sessions (and intake) run in the server measured here, not in an acceptor
    smtp: { submission: [`127.0.0.1:${submission}`], tls_cert: tlsCertFile, tls_key: tlsKeyFile, max_message_size: '50MB', processes: 1 },
  });
  try {
    const pid = site.child!.pid!;
    const s = await session(submission);
    // warm up: a streamed (over 64 KB) signed message, so every code path is loaded before the baseline
    assert.match(await s.cmd('MAIL FROM:<big@localhost>'), /^250/);
    assert.match(await s.cmd('RCPT TO:<big@localhost>'), /^250/);
    assert.match(await s.cmd('DATA'), /^354/);
    assert.match(await s.send(() => [...message('warm', 256 * 1024), Buffer.from('.\r\n')]), /^250/);
    await site.waitForMessages('big@localhost', 1);

    /** RSS growth of the server over its level before `send`, until the message is in the Maildir */
    const growthOf = async (name: string, delivered: number, send: () => Promise<void>): Promise<number> => {
      const { baseline, peak } = await rssDuring(pid, async () => {
        await send();
        await site.waitForMessages('big@localhost', delivered, 120_000);
      });
      t.diagnostic(`${name}: RSS baseline ${(baseline / MB).toFixed(1)} MB, peak ${(peak / MB).toFixed(1)} MB, growth ${((peak - baseline) / MB).toFixed(1)} MB`);
      return peak - baseline;
    };
    try {
      const byData = await growthOf('DATA', 2, async () => {
        assert.match(await s.cmd('MAIL FROM:<big@localhost>'), /^250/);
        assert.match(await s.cmd('RCPT TO:<big@localhost>'), /^250/);
        assert.match(await s.cmd('DATA'), /^354/);
        assert.match(await s.send(() => [...message('by-data', SIZE), Buffer.from('.\r\n')]), /^250/);
      });
      // BDAT: the message in 1 MB chunks, the last one LAST
      const whole = [...message('by-bdat', SIZE)];
      const total = whole.reduce((n, b) => n + b.length, 0);
      assert.equal(total, headerLength('by-bdat') + Math.ceil(SIZE / whole[1].length) * whole[1].length);
      const byBdat = await growthOf('BDAT', 3, async () => {
        assert.match(await s.cmd('MAIL FROM:<big@localhost>'), /^250/);
        assert.match(await s.cmd('RCPT TO:<big@localhost>'), /^250/);
        for (const command of bdatChunks(whole, MB)) assert.match(await s.send(Buffer.concat(command)), /^250/);
      });
      for (const [name, growth] of [['DATA', byData], ['BDAT', byBdat]] as const) {
        assert.ok(growth < 18 * MB, `${name}: RSS grew by ${(growth / MB).toFixed(1)} MB`);
      }
    } finally {
      s.close();
    }

    const files = await site.mailbox('big@localhost');
    let checked = 0;
    for (const f of files) {
      const text = readFileSync(f, 'latin1');
      const marker = /^Subject: (.*)$/m.exec(text)?.[1];
      if (marker !== 'by-data' && marker !== 'by-bdat') continue;
      checked++;
      // Maildir keeps lines with LF alone: 72-octet lines arrive as 71
      assert.ok(text.length > SIZE * (71 / 72), `${marker}: only ${text.length} octets delivered`);
      const header = text.slice(0, text.indexOf('\r\n\r\n'));
      assert.equal(header.match(/^DKIM-Signature:/gim)?.length, 1, `${marker}: one DKIM-Signature\n${header}`);
      const r = await python3(
        'import sys, dkim\nmsg = open(sys.argv[1], "rb").read()\ntxt = sys.argv[2].encode()\n' +
          'ok = dkim.verify(msg, dnsfunc=lambda name, timeout=5: txt if name.lower().rstrip(b".") == sys.argv[3].encode() else None)\n' +
          'print(ok)\nsys.exit(0 if ok else 1)\n',
        [f, key.value, key.name],
        python,
      );
      assert.equal(r.code, 0, `${marker}: dkimpy did not verify the signature: ${r.out}${r.err}`);
    }
    assert.equal(checked, 2);
  } finally {
    await site.destroy();
    await rm(dataDir, { recursive: true, force: true });
  }
});
