/**
 * @module jmap-bench
 * `BENCH_SCENARIOS=jmap npm run bench`: reading a large folder through JMAP, against Dovecot's
 * IMAP server on the same messages (issue 16, Performance).
 * A folder of BENCH_JMAP_MESSAGES (100,000) messages is written straight into a user's Maildir
 * (cur/, Maildir names with S=/W= sizes, one in 1,000 holding the word "tangerina"); a copy is
 * given to Dovecot's `imap` binary, pre-authenticated on stdin/stdout (DESIGN.md §5). Measured,
 * each BENCH_JMAP_ITER (30) times after one cold round (reported apart):
 *   page    JMAP Email/query (inMailbox, newest first, limit 50) + Email/get of those 50
 *           (subject, from, to, receivedAt, size, keywords, preview) in one request;
 *           Dovecot: FETCH of the same 50 (UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE PREVIEW)
 *   search  JMAP Email/query (text "tangerina", newest first, limit 50) + Email/get as above;
 *           Dovecot: UID SEARCH TEXT tangerina, then UID FETCH of the newest 50 found.
 * Latency is wall time per round, client to answer, as p50 and p99 (ms). correio's cold page
 * is the first look at the folder; its cold search is the next request, which waits for the
 * background indexer to have read the 100,000 messages written behind the server's back (the
 * time the indexer took is printed); the rounds are measured with it done.
 * Standards: RFC 8620/8621 (JMAP), RFC 9051 (IMAP FETCH/SEARCH), RFC 8970 (PREVIEW).
 * Security: loopback only; the Dovecot process runs as an unprivileged user when started by root.
 * Limitations: one client at a time; Dovecot without an FTS plugin (its default) reads every
 *   message for SEARCH TEXT, which is what correio is measured against.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import type { Readable, Writable } from 'node:stream';
import { startCorreio, projectRoot } from './correio-instance.js';
import { track } from './peers.js';
import { dovecotImap, prepareDovecotHome, spawnDovecotImap, type DovecotHome } from '../test/helpers/dovecot.js';

export { dovecotImap };
export const needle = 'tangerina';
const words = ['relatório', 'reunião', 'projeto', 'orçamento', 'estação', 'cronograma', 'entrega', 'revisão', 'contrato', 'agenda'];

export interface JmapBenchOptions {
  readonly work: string;
  readonly messages: number;
  readonly iterations: number;
}

export interface Latencies {
  readonly cold: number;
  readonly p50: number;
  readonly p99: number;
}

export function message(i: number): string {
  const w = (k: number): string => words[(i * 7 + k * 3) % words.length];
  const body = [`Olá, segue o ${w(1)} da semana ${i}.`, `Sobre a ${w(2)} e o ${w(3)}${i % 1000 === 0 ? ` com ${needle}` : ''}.`, '', 'Abraços,', `remetente ${i % 97}`];
  return [
    `From: Remetente ${i % 97} <r${i % 97}@example.net>`,
    'To: bench@localhost',
    `Subject: ${w(0)} ${i}`,
    `Date: ${new Date(1_700_000_000_000 + i * 1000).toUTCString()}`,
    `Message-ID: <m${i}@example.net>`,
    ...(i % 10 === 0 && i > 0 ? [`In-Reply-To: <m${i - 1}@example.net>`, `References: <m${i - 1}@example.net>`] : []),
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    '',
    ...body,
    '',
  ].join('\n');
}

/**
 * Writes `n` messages into a Maildir's cur/ as delivered and read (flag S on half of them), each
 * through tmp/ and a rename as the Maildir spec asks: the server may look while they are being
 * written (its background indexer did, and indexed a half-written file without the needle).
 */
export async function fill(maildir: string, n: number): Promise<void> {
  for (const d of ['cur', 'new', 'tmp']) await fsp.mkdir(path.join(maildir, d), { recursive: true });
  const t0 = 1_700_000_000;
  for (let i = 0; i < n; i += 500) {
    await Promise.all(
      Array.from({ length: Math.min(500, n - i) }, (_, k) => {
        const j = i + k;
        const text = Buffer.from(message(j));
        const crlf = text.length + (text.toString('latin1').match(/\n/g)?.length ?? 0);
        const name = `${t0 + j}.M${j}P1.bench,S=${text.length},W=${crlf}`;
        return fsp.writeFile(path.join(maildir, 'tmp', name), text).then(() => fsp.rename(path.join(maildir, 'tmp', name), path.join(maildir, 'cur', `${name}:2,${j % 2 ? 'S' : ''}`)));
      }),
    );
  }
}

function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}

export async function measure(iterations: number, round: () => Promise<void>): Promise<Latencies> {
  let t = performance.now();
  await round();
  const cold = performance.now() - t;
  const xs: number[] = [];
  for (let i = 0; i < iterations; i++) {
    t = performance.now();
    await round();
    xs.push(performance.now() - t);
  }
  return { cold, p50: percentile(xs, 50), p99: percentile(xs, 99) };
}

/**
 * One command at a time over an IMAP stream: `run` sends "tag command" (a command may carry a
 * LITERAL+ literal) and resolves with everything up to its tagged OK (rejects on NO/BAD).
 */
export function imapRunner(name: string, input: Writable, output: Readable): { run: (cmd: string) => Promise<string>; fail: (err: Error) => void } {
  // the answer so far in pieces, and its last few KB: the tagged line is looked for in the tail
  // only (a test of the whole answer at every chunk made a 40 MB FETCH 1:* cost the client
  // minutes, counted in the server's wall time)
  let parts: string[] = [];
  let length = 0;
  let tail = '';
  let waiting: { tag: string; resolve: (s: string) => void; reject: (e: Error) => void } | undefined;
  output.setEncoding('latin1').on('data', (d: string) => {
    parts.push(d);
    length += d.length;
    tail = (tail + d).slice(-4096);
    const start = length === tail.length ? '(^|\\r\\n)' : '\\r\\n';
    if (waiting && new RegExp(`${start}${waiting.tag} (OK|NO|BAD)[^\\r\\n]*\\r\\n$`).test(tail)) {
      const w = waiting;
      waiting = undefined;
      const out = parts.join('');
      const ok = new RegExp(`${start}${w.tag} OK[^\\r\\n]*\\r\\n$`).test(tail);
      parts = [];
      length = 0;
      tail = '';
      if (ok) w.resolve(out);
      else w.reject(new Error(`${name}: ${out.slice(-200)}`));
    }
  });
  let n = 0;
  const run = (cmd: string): Promise<string> =>
    new Promise((resolve, reject) => {
      const tag = `t${++n}`;
      waiting = { tag, resolve, reject };
      input.write(`${tag} ${cmd}\r\n`);
    });
  return { run, fail: (err) => waiting?.reject(err) };
}

/** Homes prepared for Dovecot in this run (prepareDovecotHome chowns every file: once is enough). */
const preparedHomes = new Map<string, DovecotHome>();

/**
 * A pre-authenticated Dovecot imap process on a Maildir: send a command, get its tagged answer.
 * `again`: the home was prepared by an earlier start of this run (no chown of every file again);
 * `select`: SELECT INBOX once at start (default), so that Dovecot's index is made.
 */
export async function startDovecot(home: string, o: { again?: boolean; select?: boolean } = {}): Promise<{ run: (cmd: string) => Promise<string>; stop: () => void; pid: number }> {
  const prepared = (o.again ? preparedHomes.get(home) : undefined) ?? (await prepareDovecotHome(home));
  preparedHomes.set(home, prepared);
  const child = track(spawnDovecotImap(prepared));
  let errors = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (errors = (errors + d).slice(-500)));
  const { run, fail } = imapRunner('dovecot', child.stdin!, child.stdout!);
  child.on('exit', () => fail(new Error(`dovecot imap exited: ${errors.trim()}`)));
  if (o.select !== false) await run('SELECT INBOX');
  else await run('NOOP');
  return { run, stop: () => child.stdin!.end(), pid: child.pid! };
}

/** Resolves when JMAP's full-text index (search.sqlite) holds `n` documents of the account (throws after an hour). */
async function indexed(dataDir: string, accountId: string, n: number): Promise<void> {
  for (const deadline = Date.now() + 3_600_000; ; ) {
    if (Date.now() > deadline) throw new Error(`jmap: the index did not hold ${n} messages within an hour`);
    try {
      const db = new Database(path.join(dataDir, 'search.sqlite'), { readonly: true, fileMustExist: true });
      try {
        if ((db.prepare('SELECT count(*) FROM grams WHERE account = ?').pluck().get(accountId) as number) >= n) return;
      } finally {
        db.close();
      }
    } catch {
      // not made yet, or busy: asked again
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

export async function runJmapBench(o: JmapBenchOptions): Promise<Record<string, Latencies>> {
  const correio = await startCorreio(path.join(o.work, 'correio'), {
    users: ['bench@localhost'],
    http: true,
    logLevel: 'warn',
  });
  const out: Record<string, Latencies> = {};
  let stopDovecot = (): void => undefined;
  try {
    const maildir = path.join(correio.dataDir, 'mail', 'localhost', 'bench');
    const t0 = performance.now();
    await fill(maildir, o.messages);
    console.log(`jmap: ${o.messages} messages written in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const token = spawnSync(process.execPath, [path.join(projectRoot, 'bin', 'correio.js'), 'token', 'create', 'bench@localhost', '--scope', 'jmap', '--config', path.join(o.work, 'correio', 'correio.toml')], { encoding: 'utf8' }).stdout.trim();
    const base = `http://127.0.0.1:${correio.httpPort}`;
    const headers = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' };
    const session = (await (await fetch(`${base}/jmap/session`, { headers })).json()) as { primaryAccounts: Record<string, string> };
    const accountId = session.primaryAccounts['urn:ietf:params:jmap:mail'];
    const api = async (calls: unknown[]): Promise<[string, Record<string, unknown>, string][]> => {
      const r = await fetch(`${base}/jmap/api`, { method: 'POST', headers, body: JSON.stringify({ using: ['urn:ietf:params:jmap:core', 'urn:ietf:params:jmap:mail'], methodCalls: calls }) });
      const body = (await r.json()) as { methodResponses: [string, Record<string, unknown>, string][] };
      const err = body.methodResponses.find((x) => x[0] === 'error');
      if (err) throw new Error(`jmap: ${JSON.stringify(err[1])}`);
      return body.methodResponses;
    };
    const [[, boxes]] = await api([['Mailbox/query', { accountId, filter: { role: 'inbox' } }, 'm']]);
    const inbox = (boxes.ids as string[])[0];
    const page = (filter: Record<string, unknown>) => async (): Promise<void> => {
      const r = await api([
        ['Email/query', { accountId, filter, sort: [{ property: 'receivedAt', isAscending: false }], limit: 50, calculateTotal: true }, 'q'],
        ['Email/get', { accountId, '#ids': { resultOf: 'q', name: 'Email/query', path: '/ids' }, properties: ['subject', 'from', 'to', 'receivedAt', 'size', 'keywords', 'preview'] }, 'g'],
      ]);
      const want = filter.text ? Math.min(50, Math.ceil(o.messages / 1000)) : Math.min(50, o.messages);
      if ((r[1][1].list as unknown[]).length !== want) throw new Error(`jmap: ${(r[1][1].list as unknown[]).length} emails, wanted ${want}`);
    };
    // the cold page lists the folder; the first search then waits for the background indexer
    // (index-warmer.ts) to have read the messages written behind the server's back; the rounds
    // after are measured with both done, as a mail client lives with them
    const t1 = performance.now();
    await page({ inMailbox: inbox })();
    const coldPage = performance.now() - t1;
    const t2 = performance.now();
    await page({ inMailbox: inbox, text: needle })();
    const coldSearch = performance.now() - t2;
    await indexed(correio.dataDir, accountId, o.messages);
    console.log(`jmap: the background indexer held all ${o.messages} messages ${((performance.now() - t1) / 1000).toFixed(1)} s after the cold page began`);
    out['page, correio JMAP'] = { ...(await measure(o.iterations, page({ inMailbox: inbox }))), cold: coldPage };
    out['search, correio JMAP'] = { ...(await measure(o.iterations, page({ inMailbox: inbox, text: needle }))), cold: coldSearch };

    if (!existsSync(dovecotImap)) {
      console.log(`jmap: Dovecot not measured (${dovecotImap} is missing: apt-get install dovecot-imapd)`);
      return out;
    }
    const home = path.join(o.work, 'dovecot');
    await fsp.mkdir(home, { recursive: true });
    // only INBOX's messages: correio is still running, and its lock files in the folders come and go
    for (const d of ['cur', 'new', 'tmp']) await fsp.mkdir(path.join(home, 'Maildir', d), { recursive: true });
    for (const d of ['cur', 'new']) execFileSync('cp', ['-r', `${path.join(maildir, d)}/.`, path.join(home, 'Maildir', d)]);
    const dovecot = await startDovecot(home);
    stopDovecot = (): void => dovecot.stop();
    const items = '(UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE PREVIEW)';
    const first = Math.max(1, o.messages - 49);
    out['page, Dovecot IMAP'] = await measure(o.iterations, async () => {
      const r = await dovecot.run(`FETCH ${first}:* ${items}`);
      if ((r.match(/^\* \d+ FETCH/gm) ?? []).length !== Math.min(50, o.messages)) throw new Error('dovecot: short FETCH');
    });
    out['search, Dovecot IMAP'] = await measure(o.iterations, async () => {
      const s = await dovecot.run(`UID SEARCH TEXT ${needle}`);
      const uids = (/^\* SEARCH([\d ]*)\r$/m.exec(s)?.[1] ?? '').trim().split(' ').filter(Boolean).map(Number);
      if (uids.length === 0) throw new Error('dovecot: nothing found');
      await dovecot.run(`UID FETCH ${uids.slice(-50).join(',')} ${items}`);
    });
    return out;
  } finally {
    stopDovecot();
    await correio.stop();
  }
}

export function formatJmapBench(o: JmapBenchOptions, r: Record<string, Latencies>): string {
  const lines = [`\nJMAP: a folder of ${o.messages} messages, ${o.iterations} rounds after a cold one; ms per round (client to answer)\n`, '| what | server | cold | p50 | p99 |', '|---|---|---|---|---|'];
  for (const [k, v] of Object.entries(r)) {
    const [what, who] = k.split(', ');
    lines.push(`| ${what} | ${who} | ${v.cold.toFixed(1)} | ${v.p50.toFixed(1)} | ${v.p99.toFixed(1)} |`);
  }
  return lines.join('\n');
}
