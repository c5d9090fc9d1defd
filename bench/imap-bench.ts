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
 *   append to the big INBOX  as many into the selected INBOX of BENCH_IMAP_MESSAGES, then
 *           taken out by UID STORE \Deleted and UID EXPUNGE (not timed)
 *   mixed   BENCH_IMAP_CLIENTS (50) sessions for BENCH_IMAP_MIXED_S (30) s on the INBOX
 *           (imap-load.ts): commands per second and the server's CPU per command
 *   memory  BENCH_IMAP_RSS_CONNS (200) idle authenticated sessions: KB per session
 * Then (run-bench.ts) BENCH_IMAP_IDLE (10,000; 0: not run) IDLE sessions on a fresh correio
 * while mail is delivered (imap-load.ts `idleRun`).
 * Latency is wall time per round, client to tagged answer, as p50 and p99 (ms).
 * Standards: RFC 9051 (SELECT, FETCH, SEARCH, APPEND), RFC 7888 (LITERAL+).
 * Security: loopback only; Dovecot runs as an unprivileged user when started by root.
 * Limitations: one client at a time but in the mixed load; Dovecot without an FTS plugin (its default) reads every
 *   message for SEARCH TEXT; Dovecot speaks over a pipe and correio over TCP (a few µs more
 *   per round trip for correio).
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import Database from 'better-sqlite3';
import { startCorreio } from './correio-instance.js';
import { dovecotImap, fill, measure, message, needle, startDovecot, type Latencies } from './jmap-bench.js';
import { correioCpu, correioSession, correioSessions, formatMixed, imapCpu, imapMemoryKb, mixedLoad, type MixedFigures, type Run } from './imap-load.js';
import { memoryOf } from './deferred-scenario.js';

export interface ImapBenchOptions {
  readonly work: string;
  readonly messages: number;
  readonly iterations: number;
  readonly appends: number;
  /** the mixed load (imap-load.ts): sessions and seconds */
  readonly clients: number;
  readonly mixedSeconds: number;
  /** sessions opened to measure memory per idle authenticated session */
  readonly rssSessions: number;
}

export interface ImapBenchResult {
  readonly latencies: Record<string, Latencies>;
  readonly mixed: Record<string, MixedFigures>;
  /** KB per idle authenticated session; Dovecot's PSS beside its RSS */
  readonly memory: Record<string, { rssKb: number; pssKb?: number }>;
}

/** The mixed load on `sessions` of a server, then closes them. */
async function mixed(o: ImapBenchOptions, who: string, sessions: { run: Run; close: () => void }[], cpu: () => number, out: ImapBenchResult): Promise<void> {
  try {
    out.mixed[who] = await mixedLoad(who, sessions.map((s) => s.run), o.messages, o.mixedSeconds, cpu);
    console.log(`imap: ${formatMixed(who, out.mixed[who])}`);
  } finally {
    for (const s of sessions) s.close();
  }
}

/** The measured rounds on one server, `run` being a session with nothing selected yet. */
/** Prints a figure as soon as it is measured (a long run cut short still shows what it got). */
function shown(out: Record<string, Latencies>): Record<string, Latencies> {
  return new Proxy(out, {
    set(target, key: string, v: Latencies) {
      target[key] = v;
      console.log(`imap: ${key}: cold ${v.cold.toFixed(1)} ms, p50 ${v.p50.toFixed(1)} ms, p99 ${v.p99.toFixed(1)} ms`);
      return true;
    },
  });
}

/**
 * µs per file created (open O_CREAT|O_EXCL, close: the median of 20) in `dir`, the APPEND
 * folder's tmp/, right before its APPENDs: each APPEND creates a file there, and on ext4 without
 * a journal that costs what the block group's recently removed inodes make it cost (bench-fs.ts),
 * which differs between the two servers' folders. The 20 empty files stay (tmp/ is not read).
 */
function createCost(dir: string): number {
  const us: number[] = [];
  for (let i = 0; i < 20; i++) {
    const t0 = process.hrtime.bigint();
    closeSync(openSync(path.join(dir, `bench-create-probe-${i}`), 'wx'));
    us.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  return us.sort((a, b) => a - b)[10];
}

async function rounds(o: ImapBenchOptions, who: string, run: Run, out: Record<string, Latencies>, maildir: string): Promise<void> {
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
  console.log(`imap: creating a file in ${who}'s Bench/tmp/ before its APPENDs: ${createCost(path.join(maildir, '.Bench', 'tmp')).toFixed(0)} µs (median of 20)`);
  const per = (await appendMany(o, run, 'Bench', o.messages)).msPer;
  out[`append, ${who}`] = { cold: per, p50: per, p99: per };
  await appendToBigFolder(o, who, run, out);
}

/**
 * The same APPENDs into the selected INBOX of o.messages (each answered with its EXISTS), then
 * taken out again by UID (APPENDUID of the first and the last) so the rounds after it see the
 * folder as it was.
 */
async function appendToBigFolder(o: ImapBenchOptions, who: string, run: Run, out: Record<string, Latencies>): Promise<void> {
  await run('SELECT INBOX');
  const { msPer: per, answers } = await appendMany(o, run, 'INBOX', o.messages + o.appends);
  out[`append to the big INBOX, ${who}`] = { cold: per, p50: per, p99: per };
  const uids = [answers[0], answers[answers.length - 1]].map((r) => Number(/\[APPENDUID \d+ (\d+)\]/.exec(r)?.[1] ?? NaN));
  if (uids.some((u) => !Number.isInteger(u))) throw new Error(`${who}: APPEND gave no APPENDUID`);
  const set = `${uids[0]}:${uids[uids.length - 1]}`;
  await run(`UID STORE ${set} +FLAGS.SILENT (\\Deleted)`);
  const gone = await run(`UID EXPUNGE ${set}`);
  const n = gone.match(/^\* \d+ EXPUNGE/gm)?.length ?? 0;
  if (n !== o.appends) throw new Error(`${who}: UID EXPUNGE of the APPENDed messages took ${n}, wanted ${o.appends}`);
  await run('UNSELECT');
}

/** o.appends APPENDs into `folder`, one at a time (LITERAL+): ms per APPEND and each answer. */
async function appendMany(o: ImapBenchOptions, run: Run, folder: string, first: number): Promise<{ msPer: number; answers: string[] }> {
  const answers: string[] = [];
  const t0 = performance.now();
  for (let i = 0; i < o.appends; i++) {
    // written as UTF-8 by the runner: the literal counts octets
    const text = message(first + i).replace(/\n/g, '\r\n');
    answers.push(await run(`APPEND ${folder} (\\Seen) {${Buffer.byteLength(text)}+}\r\n${text}`));
  }
  return { msPer: (performance.now() - t0) / o.appends, answers };
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

/**
 * Waits until correio's IMAP text index (account `imap:<user>`) holds every message of the
 * folder; the seconds it took. (The web's index is kept only where HTTP is served, not here.)
 */
export async function indexesBuilt(dataDir: string, user: string, n: number): Promise<number> {
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

export async function runImapBench(o: ImapBenchOptions): Promise<ImapBenchResult> {
  const user = 'bench@localhost';
  const password = 'bench-secret';
  // started again on the same data_dir: the user is there already
  // the mixed load's and the memory count's sessions all come from 127.0.0.1
  const limits = [`max_connections = ${o.clients + o.rssSessions + 100}`, `max_connections_per_ip = ${o.clients + o.rssSessions + 100}`];
  const start = (again = false): ReturnType<typeof startCorreio> => startCorreio(path.join(o.work, 'correio'), {
    users: again ? [] : [user], password, imap: true, imapLines: limits, logLevel: 'warn',
    // what-if and profiling runs, as run-bench.ts's scenarios take them
    nodeFlags: (process.env.BENCH_CORREIO_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean),
  });
  let correio = await start();
  const result: ImapBenchResult = { latencies: {}, mixed: {}, memory: {} };
  const out = shown(result.latencies);
  let stop = (): void => undefined;
  try {
    // one Maildir written once, copied whole to each server (correio's server watches its own)
    const seed = path.join(o.work, 'seed');
    await fill(seed, o.messages);
    const home = path.join(o.work, 'dovecot');
    const maildirs = { correio: path.join(correio.dataDir, 'mail', 'localhost', 'bench'), Dovecot: path.join(home, 'Maildir') };
    for (const to of Object.values(maildirs)) {
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
    await rounds(o, 'correio', c.run, out, maildirs.correio);
    c.close();
    const pid = correio.child.pid!;
    await mixed(o, 'correio', await correioSessions(o.clients, correio.imapPort, user, password), correioCpu(pid), result);
    const rss0 = memoryOf(pid).rssMb;
    const idle = await correioSessions(o.rssSessions, correio.imapPort, user, password);
    await new Promise((r) => setTimeout(r, 1000));
    result.memory.correio = { rssKb: ((memoryOf(pid).rssMb - rss0) * 1024) / o.rssSessions };
    for (const s of idle) s.close();
    await correio.stop();
    correio = await start(true);
    const r = await correioSession(correio.imapPort, user, password);
    stop = r.close;
    await afterRestart(o, 'correio', r.run, out);
    r.close();

    if (!existsSync(dovecotImap)) {
      console.log(`imap: Dovecot not measured (${dovecotImap} is missing: apt-get install dovecot-imapd)`);
      return result;
    }
    const d = await startDovecot(home);
    stop = d.stop;
    // startDovecot selected INBOX once (its index made): UNSELECT so the rounds start alike
    await d.run('UNSELECT');
    await rounds(o, 'Dovecot', d.run, out, maildirs.Dovecot);
    d.stop();
    // started one after another: each writes the same dovecot.conf
    const many = async (n: number, select: boolean): Promise<{ run: Run; close: () => void; pid: number }[]> => {
      const list: { run: Run; close: () => void; pid: number }[] = [];
      stop = (): void => list.forEach((x) => x.close());
      for (let i = 0; i < n; i++) {
        const x = await startDovecot(home, { again: true, select });
        list.push({ run: x.run, close: x.stop, pid: x.pid });
      }
      return list;
    };
    const ds = await many(o.clients, true);
    await mixed(o, 'Dovecot', ds, () => imapCpu(ds.map((x) => x.pid)), result);
    const di = await many(o.rssSessions, false);
    await new Promise((r) => setTimeout(r, 1000));
    const mem = di.map((x) => imapMemoryKb(x.pid)).reduce((a, b) => ({ rss: a.rss + b.rss, pss: a.pss + b.pss }), { rss: 0, pss: 0 });
    result.memory.Dovecot = { rssKb: mem.rss / o.rssSessions, pssKb: mem.pss / o.rssSessions };
    for (const x of di) x.close();
    const d2 = await startDovecot(home, { again: true });
    stop = d2.stop;
    await d2.run('UNSELECT');
    await afterRestart(o, 'Dovecot', d2.run, out);
    return result;
  } finally {
    stop();
    await correio.stop();
  }
}

export function formatImapBench(o: ImapBenchOptions, result: ImapBenchResult): string {
  const r = result.latencies;
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
  const [mc, md] = [result.mixed.correio, result.mixed.Dovecot];
  lines.push('', '| what | server | commands | per second | server CPU ms per command |', '|---|---|---|---|---|');
  for (const [who, f] of Object.entries(result.mixed)) lines.push(formatMixed(who, f));
  if (mc && md) lines.push(`mixed, correio ÷ Dovecot: ${(mc.perSecond / md.perSecond).toFixed(2)} in commands per second, ${(md.cpuMsPerCommand / mc.cpuMsPerCommand).toFixed(2)} in CPU per command (Dovecot's ÷ correio's)`);
  lines.push('', `Memory per idle authenticated session (${o.rssSessions} sessions):`);
  for (const [who, m] of Object.entries(result.memory)) lines.push(`  ${who}: ${m.rssKb.toFixed(0)} KB RSS${m.pssKb === undefined ? ' (grown in the server process)' : `, ${m.pssKb.toFixed(0)} KB PSS (one imap process each)`}`);
  return lines.join('\n');
}
