/**
 * @module imap-bench
 * `BENCH_SCENARIOS=imap npm run bench`: correio's IMAP server against Dovecot's on the same
 * Maildir (issue 14, Performance). A folder of BENCH_IMAP_MESSAGES (10,000) messages is
 * written into a user's Maildir as the jmap scenario writes it (jmap-bench.ts `fill`: one in
 * 1,000 holds the word "tangerina"); Dovecot gets a copy (without correio's files) and runs as
 * the jmap scenario runs it, pre-authenticated on stdin/stdout; correio is `correio serve` with
 * an IMAP listener, logged in over loopback TCP. Measured, each BENCH_IMAP_ITER (10) times after
 * one cold round (reported apart):
 *   select  SELECT INBOX
 *   fetch   UID FETCH 1:* (FLAGS ENVELOPE)
 *   search  UID SEARCH TEXT tangerina
 * Both servers have seen the folder once before the rounds (Dovecot made its index; correio gave
 * UIDs and filled its text index in the background, the time it took printed).
 *   fetch after restart  the server stopped and started again on the same files, then one
 *           SELECT and one timed UID FETCH 1:* (FLAGS ENVELOPE) (correio's disk fetch cache,
 *           Dovecot's dovecot.index.cache)
 *   append  BENCH_IMAP_APPENDS (1,000) APPENDs of one message each into a new folder, one at a
 *           time (LITERAL+); reported as ms per APPEND and messages per second
 * Latency is wall time per round, client to tagged answer, as p50 and p99 (ms).
 * Standards: RFC 9051 (SELECT, FETCH, SEARCH, APPEND), RFC 7888 (LITERAL+).
 * Security: loopback only; Dovecot runs as an unprivileged user when started by root.
 * Limitations: one client at a time; Dovecot without an FTS plugin (its default) reads every
 *   message for SEARCH TEXT; Dovecot speaks over a pipe and correio over TCP (a few µs more
 *   per round trip for correio).
 */
import fsp from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { startCorreio } from './correio-instance.js';
import { dovecotImap, fill, imapRunner, measure, message, needle, startDovecot, type Latencies } from './jmap-bench.js';

export interface ImapBenchOptions {
  readonly work: string;
  readonly messages: number;
  readonly iterations: number;
  readonly appends: number;
}

type Run = (cmd: string) => Promise<string>;

/** The measured rounds on one server, `run` being a session with nothing selected yet. */
async function rounds(o: ImapBenchOptions, who: string, run: Run, out: Record<string, Latencies>): Promise<void> {
  out[`select, ${who}`] = await measure(o.iterations, async () => {
    const r = await run('SELECT INBOX');
    if (!new RegExp(`\\* ${o.messages} EXISTS`).test(r)) throw new Error(`${who}: SELECT does not show ${o.messages} messages`);
  });
  out[`fetch, ${who}`] = await measure(o.iterations, async () => {
    const r = await run('UID FETCH 1:* (FLAGS ENVELOPE)');
    const n = r.match(/^\* \d+ FETCH/gm)?.length ?? 0;
    if (n !== o.messages) throw new Error(`${who}: FETCH gave ${n} messages`);
  });
  const want = Math.ceil(o.messages / 1000);
  out[`search, ${who}`] = await measure(o.iterations, async () => {
    const r = await run(`UID SEARCH TEXT ${needle}`);
    const uids = (/^\* SEARCH([\d ]*)\r$/m.exec(r)?.[1] ?? '').trim().split(' ').filter(Boolean);
    if (uids.length !== want) throw new Error(`${who}: SEARCH found ${uids.length}, wanted ${want}`);
  });
  await run('CREATE Bench');
  const t0 = performance.now();
  for (let i = 0; i < o.appends; i++) {
    // written as UTF-8 by the runner: the literal counts octets
    const text = message(o.messages + i).replace(/\n/g, '\r\n');
    await run(`APPEND Bench (\\Seen) {${Buffer.byteLength(text)}+}\r\n${text}`);
  }
  const per = (performance.now() - t0) / o.appends;
  out[`append, ${who}`] = { cold: per, p50: per, p99: per };
}

/** One SELECT, then one timed FETCH of every envelope, on a server just started again. */
async function afterRestart(o: ImapBenchOptions, who: string, run: Run, out: Record<string, Latencies>): Promise<void> {
  await run('SELECT INBOX');
  const t0 = performance.now();
  const r = await run('UID FETCH 1:* (FLAGS ENVELOPE)');
  const ms = performance.now() - t0;
  const n = r.match(/^\* \d+ FETCH/gm)?.length ?? 0;
  if (n !== o.messages) throw new Error(`${who}: FETCH after restart gave ${n} messages`);
  out[`fetch after restart, ${who}`] = { cold: ms, p50: ms, p99: ms };
}

/** A logged-in correio IMAP session over TCP. */
async function correioSession(port: number, user: string, password: string): Promise<{ run: Run; close: () => void }> {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const { run, fail } = imapRunner('correio', socket, socket);
  socket.on('close', () => fail(new Error('correio closed the IMAP connection')));
  // the greeting comes untagged before the first command's answer, which runner skips
  await run(`LOGIN ${user} ${password}`);
  return { run, close: () => socket.destroy() };
}

/**
 * Waits until correio's IMAP text index (account `imap:<user>`) holds every message of the
 * folder; the seconds it took. (The web's index is kept only where HTTP is served, not here.)
 */
async function indexesBuilt(dataDir: string, user: string, n: number): Promise<number> {
  const t0 = performance.now();
  const accounts = [`imap:${user}`];
  while (!existsSync(path.join(dataDir, 'search.sqlite'))) await new Promise((r) => setTimeout(r, 200));
  const db = new Database(path.join(dataDir, 'search.sqlite'), { readonly: true });
  try {
    const count = db.prepare('SELECT count(*) FROM grams WHERE account = ?').pluck();
    while (accounts.some((a) => (count.get(a) as number) < n)) {
      if (performance.now() - t0 > 900_000) throw new Error('correio: the IMAP text index was not built in 15 minutes');
      await new Promise((r) => setTimeout(r, 500));
    }
  } finally {
    db.close();
  }
  return (performance.now() - t0) / 1000;
}

export async function runImapBench(o: ImapBenchOptions): Promise<Record<string, Latencies>> {
  const user = 'bench@localhost';
  const password = 'bench-secret';
  // started again on the same data_dir: the user is there already
  const start = (again = false): ReturnType<typeof startCorreio> => startCorreio(path.join(o.work, 'correio'), { users: again ? [] : [user], password, imap: true, logLevel: 'warn' });
  let correio = await start();
  const out: Record<string, Latencies> = {};
  let stop = (): void => undefined;
  try {
    // one Maildir written once, copied whole to each server (correio's server watches its own)
    const seed = path.join(o.work, 'seed');
    await fill(seed, o.messages);
    const home = path.join(o.work, 'dovecot');
    for (const to of [path.join(correio.dataDir, 'mail', 'localhost', 'bench'), path.join(home, 'Maildir')]) {
      await fsp.mkdir(to, { recursive: true });
      execFileSync('cp', ['-a', `${seed}/.`, to]);
    }

    const c = await correioSession(correio.imapPort, user, password);
    stop = c.close;
    // the first SELECT gives the folder its UIDs; the indexes fill in the background after it
    const t0 = performance.now();
    await c.run('SELECT INBOX');
    const first = (performance.now() - t0) / 1000;
    const built = await indexesBuilt(correio.dataDir, user, o.messages);
    console.log(`imap: correio's first SELECT (UIDs given) ${first.toFixed(1)} s; its IMAP text index held all ${o.messages} messages ${built.toFixed(1)} s later`);
    await c.run('UNSELECT');
    await rounds(o, 'correio', c.run, out);
    c.close();
    await correio.stop();
    correio = await start(true);
    const r = await correioSession(correio.imapPort, user, password);
    stop = r.close;
    await afterRestart(o, 'correio', r.run, out);
    r.close();

    if (!existsSync(dovecotImap)) {
      console.log(`imap: Dovecot not measured (${dovecotImap} is missing: apt-get install dovecot-imapd)`);
      return out;
    }
    const d = await startDovecot(home);
    stop = d.stop;
    // startDovecot selected INBOX once (its index made): UNSELECT so the rounds start alike
    await d.run('UNSELECT');
    await rounds(o, 'Dovecot', d.run, out);
    d.stop();
    const d2 = await startDovecot(home);
    stop = d2.stop;
    await d2.run('UNSELECT');
    await afterRestart(o, 'Dovecot', d2.run, out);
    return out;
  } finally {
    stop();
    await correio.stop();
  }
}

export function formatImapBench(o: ImapBenchOptions, r: Record<string, Latencies>): string {
  const lines = [
    `\nIMAP: a folder of ${o.messages} messages, ${o.iterations} rounds after a cold one; ms per round (client to tagged answer); append: ms per APPEND of ${o.appends}\n`,
    '| what | server | cold | p50 | p99 | correio ÷ Dovecot (speed: Dovecot p50 ÷ correio p50) |',
    '|---|---|---|---|---|---|',
  ];
  for (const [k, v] of Object.entries(r)) {
    const [what, who] = k.split(', ');
    const peer = r[`${what}, Dovecot`];
    const ratio = who === 'correio' && peer ? (peer.p50 / v.p50).toFixed(2) : '';
    lines.push(`| ${what} | ${who} | ${v.cold.toFixed(1)} | ${v.p50.toFixed(1)} | ${v.p99.toFixed(1)} | ${ratio} |`);
  }
  return lines.join('\n');
}
