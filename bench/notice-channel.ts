/**
 * @module notice-channel
 * What carrying an acceptor's notices costs each process, by way of carrying them (issue 19;
 * app/acceptor-notice.ts): the same notices (6 messages of 5,404 octets each, the envelope,
 * place and three mail events of each, as the accept bench makes them) sent from a forked
 * child to this process, CPU time (process.cpuUsage) per message on each side:
 *   - json: Node's IPC channel as JSON lines, each body a latin1 string (before this session);
 *   - advanced: Node's IPC channel with `serialization: 'advanced'`, each body a Buffer;
 *   - frames: app/acceptor-notice.ts on a pipe of its own (now), and frames-no-body without
 *     the bodies (what a notice costs when the server reads the body from the segment instead).
 * The receiver decodes every notice (and gets each body as a Buffer) and does nothing more.
 *
 *   node dist/bench/notice-channel.js [rounds] [notices]
 *   node dist/bench/notice-channel.js codec [rounds] [notices]: the header's encode and decode
 *     alone, in one process (µs of CPU per message)
 *   node --expose-gc dist/bench/notice-channel.js memory [notices]: heap per queued envelope,
 *     decoded by the codec and by JSON.parse
 * Standards: none. Security: none. Limitations: CPU time on a shared machine still varies
 *   with the others' load (cache, frequency): alternate the ways, as this does.
 */
import { fork, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Envelope } from '../src/core/index.js';
import { NoticeReader, encodeNotice, noticeFd, type Queued } from '../src/app/acceptor-notice.js';
import type { RelayedEvent } from '../src/app/acceptor-events.js';

const ways = ['json', 'advanced', 'frames', 'frames-no-body'] as const;
type Way = (typeof ways)[number];
const perNotice = 6;

/** the bodies, made once: an acceptor's are the buffers its commits wrote */
const bodies = Array.from({ length: perNotice }, (_, i) => Buffer.alloc(5404, `Subject: ${i}\r\n\r\n${'x'.repeat(70)}\r\n`));

/** One turn's notice, as the accept bench's acceptor sends it. */
function sample(turn: number, withBodies: boolean): Queued {
  const q: Queued = { envelopes: [], places: new Map(), events: [], bodies: new Map() };
  for (let i = 0; i < perNotice; i++) {
    const id = `01m95nks${String(turn * perNotice + i).padStart(10, '0')}`;
    const envelope = {
      sender: { local: 'a', domain: 'example.org' }, recipient: { local: 'b', domain: 'example.net' }, originalRecipient: { local: 'b', domain: 'example.net' },
      route: { transport: 'smtp', nextHop: '[127.0.0.1]:41637' }, arrivedAt: 1796560512117, size: 5404, nextAttemptAt: 0, dsn: {}, smtpUtf8: false,
      resolvedVia: [], state: 'queued', body: '7BIT', id: `${id}-1`, messageId: id, attempts: [],
    } as unknown as Envelope;
    q.envelopes.push(envelope);
    q.places.set(id, { seg: '01m95nks3p0w0mfvt0u19403', offset: i * 5891, bodyLength: 5404, trailerLength: 455 });
    const events: RelayedEvent[] = [
      ['connection', { session: `mxbtqdae.${i}`, remoteAddress: '127.0.0.1', mode: 'mx' }],
      ['received', { messageId: id, sender: 'a@example.org', recipients: ['b@example.net'], size: 5404, client: '127.0.0.1', protocol: 'SMTP', helo: 'vm', messageIdHeader: '<4c16.0003.01e0@vm>', receivedField: `from vm (unknown [127.0.0.1]) by bench.localhost (correio) with SMTP id ${id} for <b@example.net>; Sun, 6 Dec 2026 12:35:12 +0000` }],
      ['queued', { envelopeId: `${id}-1`, messageId: id, recipient: 'b@example.net', route: 'smtp:[127.0.0.1]:41637', given: 'b@example.net' }],
    ];
    q.events.push(...events);
    if (withBodies) q.bodies.set(id, bodies[i]);
  }
  return q;
}

const cpuMicros = (from: NodeJS.CpuUsage): number => {
  const d = process.cpuUsage(from);
  return d.user + d.system;
};

/** The child: sends `notices` notices the given way once told to go, then its CPU time. */
async function send(way: Way, notices: number): Promise<void> {
  await new Promise<void>((r) => process.once('message', () => r()));
  const start = process.cpuUsage();
  const pipe = way.startsWith('frames') ? new net.Socket({ fd: noticeFd, readable: false, writable: true }) : undefined;
  for (let n = 0; n < notices; n++) {
    // a fresh notice each turn, as the acceptor builds one (its bodies are the commit's buffers)
    const q = sample(n, way !== 'frames-no-body');
    if (pipe) {
      pipe.cork();
      let ok = true;
      for (const b of encodeNotice(q)) ok = pipe.write(b);
      pipe.uncork();
      if (!ok) await new Promise((r) => pipe.once('drain', r));
    } else {
      const bodies = way === 'json' ? Object.fromEntries([...q.bodies].map(([id, b]) => [id, b.toString('latin1')])) : Object.fromEntries(q.bodies);
      const m = { t: 'queued', envelopes: q.envelopes, places: Object.fromEntries(q.places), bodies, events: q.events };
      await new Promise<void>((r) => process.send!(m, undefined, {}, () => r()));
    }
  }
  if (pipe) await new Promise<void>((r) => pipe.end(r));
  process.send!({ t: 'done', cpu: cpuMicros(start) });
}

/** This side: receives `notices` notices the given way; CPU µs per message of each side. */
async function measure(way: Way, notices: number): Promise<{ sender: number; receiver: number }> {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ['child', way, String(notices)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc', 'pipe'],
    serialization: way === 'advanced' ? 'advanced' : 'json',
  });
  let got = 0;
  let received: (() => void) | undefined;
  const all = new Promise<void>((r) => (received = r));
  const count = (q: { envelopes: unknown[] }): void => {
    got += q.envelopes.length;
    if (got === notices * perNotice) received?.();
  };
  const reader = new NoticeReader();
  child.stdio[noticeFd]?.on('data', (chunk: Buffer) => {
    for (const q of reader.push(chunk)) count(q);
  });
  let senderCpu = 0;
  const done = new Promise<void>((r) => child.on('message', (m: { t: string; cpu?: number; envelopes?: unknown[]; bodies?: Record<string, string | Uint8Array> }) => {
    if (m.t === 'done') {
      senderCpu = m.cpu ?? 0;
      r();
    } else if (m.t === 'queued') {
      // what the server did with a notice's bodies before: each as a Buffer
      for (const b of Object.values(m.bodies ?? {})) {
        if (typeof b === 'string') Buffer.from(b, 'latin1');
        else Buffer.from(b.buffer, b.byteOffset, b.byteLength);
      }
      count(m as { envelopes: unknown[] });
    }
  }));
  await new Promise((r) => child.once('spawn', r));
  const start = process.cpuUsage();
  child.send('go');
  await all;
  const receiver = cpuMicros(start);
  await done;
  await new Promise((r) => child.once('exit', r));
  const msgs = notices * perNotice;
  return { sender: senderCpu / msgs, receiver: receiver / msgs };
}

/**
 * The codec alone, in this process: encode each notice and decode it from one chunk (no pipe,
 * no bodies, which are not coded), CPU µs per message of each; the mean of `runs` after a warm-up.
 */
function codec(notices: number): { encode: number; decode: number } {
  const qs = Array.from({ length: notices }, (_, n) => sample(n, false));
  let encode = 0;
  let decode = 0;
  for (let run = 0; run < 2; run++) {
    let start = process.cpuUsage();
    const wire = qs.map((q) => Buffer.concat(encodeNotice(q)));
    encode = cpuMicros(start);
    const reader = new NoticeReader();
    start = process.cpuUsage();
    let got = 0;
    for (const w of wire) for (const q of reader.push(w)) got += q.envelopes.length;
    decode = cpuMicros(start);
    if (got !== notices * perNotice) throw new Error(`decoded ${got} envelopes`);
  }
  return { encode: encode / (notices * perNotice), decode: decode / (notices * perNotice) };
}

/**
 * Heap held per queued envelope (node --expose-gc): the envelopes of `notices` notices kept, as
 * this codec decodes them and as JSON.parse of their JSON (the header before) made them.
 */
function memory(notices: number): { codec: number; json: number } {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('memory: run node with --expose-gc');
  const wire = Array.from({ length: notices }, (_, n) => Buffer.concat(encodeNotice(sample(n, false))));
  const texts = Array.from({ length: notices }, (_, n) => JSON.stringify(sample(n, false).envelopes));
  const held = (decode: (n: number) => unknown[]): number => {
    const kept: unknown[][] = [];
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let n = 0; n < notices; n++) kept.push(decode(n));
    gc();
    const after = process.memoryUsage().heapUsed;
    if (kept.flat().length !== notices * perNotice) throw new Error('memory: envelopes lost');
    return (after - before) / (notices * perNotice);
  };
  const reader = new NoticeReader();
  return { codec: held((n) => reader.push(wire[n])[0].envelopes), json: held((n) => JSON.parse(texts[n]) as unknown[]) };
}

if (process.argv[2] === 'child') {
  await send(process.argv[3] as Way, Number(process.argv[4]));
} else if (process.argv[2] === 'memory') {
  // node --expose-gc dist/bench/notice-channel.js memory [notices]
  const { codec, json } = memory(Number(process.argv[3] ?? '10000'));
  console.log(`heap per queued envelope: this codec ${codec.toFixed(0)} octets, JSON.parse ${json.toFixed(0)}`);
} else if (process.argv[2] === 'codec') {
  // node dist/bench/notice-channel.js codec [rounds] [notices]
  const notices = Number(process.argv[4] ?? '3000');
  for (let r = 1; r <= Number(process.argv[3] ?? '3'); r++) {
    const { encode, decode } = codec(notices);
    console.log(`round ${r} codec: encode ${encode.toFixed(2)} decode ${decode.toFixed(2)} both ${(encode + decode).toFixed(2)} µs per message (header ${Buffer.concat(encodeNotice(sample(0, false))).length - 8} octets a notice of ${perNotice})`);
  }
} else {
  const rounds = Number(process.argv[2] ?? '3');
  const notices = Number(process.argv[3] ?? '3000');
  console.log(`CPU µs per message (notices of ${perNotice} messages, ${notices} notices a run; load ${(await import('node:os')).loadavg()[0].toFixed(1)})`);
  for (let r = 1; r <= rounds; r++) {
    for (const way of ways) {
      const { sender, receiver } = await measure(way, notices);
      console.log(`round ${r} ${way.padEnd(15)} sender ${sender.toFixed(1).padStart(5)}  receiver ${receiver.toFixed(1).padStart(5)}  both ${(sender + receiver).toFixed(1).padStart(5)}`);
    }
  }
}
