/**
 * @module imap-fetch-stream
 * `node dist/bench/imap-fetch-stream.js [N] [ROUNDS] [BIG_MB] [whole|streamed]`: what FETCH's two ways of sending
 * a message's octets cost (issue 14), correio's IMAP server in this process over a loopback
 * socket. Small messages: the CPU (this process, user + system; the client only counts octets)
 * of `FETCH 1:* BODY.PEEK[]` on an INBOX of N corpus-like messages (~0.4 KB) when each is read
 * whole (message-reader, as below fetch-stream's streamFromDefault) against streamed
 * from its file (fetchStreamFrom 0), the two alternated ROUNDS times. Big message: the heap and
 * RSS growth of one `FETCH 1 BODY.PEEK[]` of a BIG_MB message each way, then of one APPEND of it
 * read whole (appendStreamFrom ∞) and streamed to the folder (the default, 1 MiB). CPU time, unlike wall
 * time, hardly moves with the load of a shared box.
 * Standards: RFC 9051 §6.4.5 (FETCH BODY.PEEK[]).
 * Security: loopback only, a temp dir removed afterwards.
 * Limitations: one session and one process (client and server share the CPU figure: the client
 *   does the same for both ways).
 */
import fsp from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fill } from './jmap-bench.js';
import { MaildirFolders, MaildirStore } from '../src/mailbox/index.js';
import { ImapServer } from '../src/server/imap/index.js';

const n = Number(process.argv[2] ?? 5000);
const rounds = Number(process.argv[3] ?? 6);
const bigMb = Number(process.argv[4] ?? 20);
/** "whole" or "streamed": only that way for the small messages (e.g. under `strace -c -f`); BIG_MB 0 skips the big message */
const only = process.argv[5];
const user = 'bench@localhost';
const work = await fsp.mkdtemp(path.join(os.tmpdir(), 'imap-fetch-stream-'));

/** A session that sends one command and resolves with the octets of its answer (counted, not kept). */
async function session(port: number): Promise<{ run: (cmd: string, data?: Buffer) => Promise<number>; close: () => void }> {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  let tail = '';
  let octets = 0;
  let waiting: { tag: string; done: (n: number) => void } | undefined;
  socket.on('data', (b: Buffer) => {
    octets += b.length;
    tail = (tail + b.toString('latin1', Math.max(0, b.length - 2000))).slice(-2000);
    if (waiting && new RegExp(`(^|\\n)${waiting.tag} (OK|NO|BAD)[^\\n]*\\r\\n$`).test(tail)) {
      const w = waiting;
      waiting = undefined;
      w.done(octets);
    }
  });
  let k = 0;
  /**
   * `data`: a literal's octets after the command line (sent as LITERAL+, "{n+}"), 64 KiB at a
   * time as the server takes them (this process holds no copy of it waiting in the socket)
   */
  const run = async (cmd: string, data?: Buffer): Promise<number> => {
    const tag = `b${++k}`;
    octets = 0;
    tail = '';
    const answered = new Promise<number>((done) => (waiting = { tag, done }));
    socket.write(`${tag} ${cmd}\r\n`);
    for (let i = 0; data && i < data.length; i += 64 * 1024) {
      if (!socket.write(data.subarray(i, i + 64 * 1024))) await new Promise((r) => socket.once('drain', r));
    }
    if (data) socket.write('\r\n');
    return answered;
  };
  await run(`LOGIN ${user} secret`);
  await run('SELECT INBOX');
  return { run, close: () => socket.destroy() };
}

/** The growth of this process's heap (with Buffers) and RSS at their peaks while `f` runs. */
async function growth(f: () => Promise<void>): Promise<string> {
  global.gc?.();
  const h0 = process.memoryUsage();
  let peakHeap = 0;
  let peakRss = 0;
  const sampler = setInterval(() => {
    const m = process.memoryUsage();
    peakHeap = Math.max(peakHeap, m.heapUsed + m.arrayBuffers);
    peakRss = Math.max(peakRss, m.rss);
  }, 5);
  await f();
  clearInterval(sampler);
  return `peak heap+buffers growth ${((peakHeap - h0.heapUsed - h0.arrayBuffers) / 1024 / 1024).toFixed(1)} MB, RSS growth ${((peakRss - h0.rss) / 1024 / 1024).toFixed(1)} MB`;
}

async function server(mail: string, fetchStreamFrom: number, appendStreamFrom?: number): Promise<{ port: number; close: () => Promise<void> }> {
  const folders = new MaildirFolders(new MaildirStore(mail, { hostname: 'mx' }));
  const s = new ImapServer({ hostname: 'mx', folders, authenticate: () => Promise.resolve(true), fetchStreamFrom, ...(appendStreamFrom !== undefined && { appendStreamFrom }), appendLimit: 64 * 1024 * 1024 });
  const [bound] = await s.listen([{ host: '127.0.0.1', port: 0 }]);
  return { port: bound.port, close: () => s.close() };
}

const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

try {
  const small = path.join(work, 'small');
  await fill(path.join(small, 'localhost', 'bench'), n);
  const ways = [
    { name: 'read whole', from: Number.POSITIVE_INFINITY },
    { name: 'streamed', from: 0 },
  ] as const;
  const smallWays = ways.filter((w) => only === undefined || w.name.includes(only));
  const figures = new Map<string, number[]>(smallWays.map((w) => [w.name, []]));
  const sessions = await Promise.all(smallWays.map(async (w) => ({ w, srv: await server(small, w.from) })));
  const open = await Promise.all(sessions.map(async (x) => ({ ...x, s: await session(x.srv.port) })));
  for (const x of open) await x.s.run('FETCH 1:* BODY.PEEK[]'); // warm: the folder's state and code paths
  for (let r = 0; r < rounds; r++) {
    for (const x of r % 2 ? [...open].reverse() : open) {
      const c0 = cpuMs();
      const octets = await x.s.run('FETCH 1:* BODY.PEEK[]');
      figures.get(x.w.name)!.push(((cpuMs() - c0) * 1000) / n);
      if (r === 0) console.log(`${x.w.name}: ${(octets / 1024 / 1024).toFixed(1)} MB answered`);
    }
  }
  for (const [name, f] of figures) console.log(`FETCH 1:* BODY.PEEK[] of ${n} small messages, ${name}: CPU µs per message ${f.map((x) => x.toFixed(1)).join(' ')}`);
  for (const x of open) {
    x.s.close();
    await x.srv.close();
  }

  // BIG_MB 0: the small messages only (the temp dir still removed below)
  if (bigMb > 0) {
    // one big message, each way in its own server
    const big = path.join(work, 'big');
    const box = path.join(big, 'localhost', 'bench');
    for (const d of ['cur', 'new', 'tmp']) await fsp.mkdir(path.join(box, d), { recursive: true });
    const line = `${'dados '.repeat(11)}x\n`;
    const body = `From: a@example.net\nTo: bench@localhost\nSubject: big\n\n${line.repeat(Math.ceil((bigMb * 1024 * 1024) / line.length))}`;
    const lines = body.split('\n').length - 1;
    await fsp.writeFile(path.join(box, 'cur', `1700000000.M1P1.big,S=${body.length},W=${body.length + lines}:2,`), body);
    // the streamed way first: the first big transfer of a process grows its RSS once (the
    // allocator keeping the garbage's space), which the second then reuses
    for (const w of [...ways].reverse()) {
      const srv = await server(big, w.from);
      const s = await session(srv.port);
      let octets = 0;
      const g = await growth(async () => {
        octets = await s.run('FETCH 1 BODY.PEEK[]');
      });
      console.log(`FETCH 1 BODY.PEEK[] of a ${(octets / 1024 / 1024).toFixed(1)} MB message, ${w.name}: ${g}`);
      s.close();
      await srv.close();
    }
    // APPEND of the same message (LITERAL+), read whole (appendStreamFrom ∞) and streamed (1 MiB)
    const literal = Buffer.from(body.replaceAll('\n', '\r\n'));
    for (const w of [...ways].reverse()) {
      const srv = await server(big, w.from, w.from === 0 ? undefined : Number.POSITIVE_INFINITY);
      const s = await session(srv.port);
      const g = await growth(async () => {
        await s.run(`APPEND INBOX {${literal.length}+}`, literal);
      });
      console.log(`APPEND of a ${(literal.length / 1024 / 1024).toFixed(1)} MB message, ${w.name}: ${g}`);
      s.close();
      await srv.close();
    }
  }
} finally {
  await fsp.rm(work, { recursive: true, force: true });
}
