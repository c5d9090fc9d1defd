/**
 * @module imap-folder-steps
 * `node dist/bench/imap-folder-steps.js [N] [STEPS] [ROUNDS] [TREE ...]`: what one folder step
 * costs in a big folder (issue 14): an INBOX of N (100,000) messages selected by two sessions,
 * A and B; per step, the heap bytes allocated and the CPU time of the server (in this process)
 * for A's `UID MOVE` of one message to another folder, A's `APPEND` of one message into INBOX,
 * A's `APPEND … CATENATE` into INBOX of a text part and the last message of the folder (by URL),
 * A's `UID STORE +FLAGS.SILENT (\Deleted)` and `UID EXPUNGE` of one message, and the NOOP by
 * which A and B take each in (EXPUNGE, EXISTS). Each TREE (a correio checkout with its dist/
 * built; this one when none is given) is measured in its own process, ROUNDS (3) times,
 * alternated (A B B A …), so an old and a new tree are compared on a loaded machine.
 * Allocation is read as the growth of `heapUsed` across the step, the steps of a round coming
 * back to back after one collection, with the young generation made big enough
 * (`--min-semi-space-size`) that none runs among them: a step that overlaps one anyway (their
 * times from a PerformanceObserver) is left out (counted), as is one in which the folder was
 * listed whole (the look maildir-folder-state takes two seconds after a change of ours,
 * O(messages) in both trees: counted). CPU is process.cpuUsage (the client's few lines are in
 * it too). The folder is made by writing its N files into cur/ (one listing at SELECT).
 * Standards: RFC 9051 §6.4.8 (UID), RFC 6851 (MOVE), RFC 4315 (UID EXPUNGE), RFC 4469
 *   (CATENATE), RFC 5092 (the IMAP URL of a message).
 * Security: loopback only, a temp dir, removed afterwards.
 * Limitations: medians of STEPS (30) steps per kind and round; the server and the clients share
 *   one process (the clients' allocation, a few KB per step, is counted too).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance, PerformanceObserver } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { median } from './bench-report.js';
import { correioSession } from './imap-load.js';

const self = fileURLToPath(import.meta.url);
const thisTree = path.resolve(path.dirname(self), '..', '..');

interface Figures {
  /** step kind → median bytes allocated, median CPU µs, steps measured, steps left out (a GC ran, the folder was listed) */
  readonly [kind: string]: { bytes: number; cpuUs: number; n: number; gc: number; listed: number };
}

/** One tree measured in this process: prints its figures as one JSON line. */
async function child(tree: string, n: number, steps: number): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with --expose-gc');
  const { MaildirFolders, MaildirStore } = (await import(pathToFileURL(path.join(tree, 'dist/src/mailbox/index.js')).href)) as typeof import('../src/mailbox/index.js');
  const { ImapServer } = (await import(pathToFileURL(path.join(tree, 'dist/src/server/imap/index.js')).href)) as typeof import('../src/server/imap/index.js');
  const root = await fsp.mkdtemp(path.join(os.tmpdir(), 'imap-folder-steps-'));
  const user = 'bench@localhost';
  const password = 'bench-secret';
  const inbox = path.join(root, 'localhost', 'bench');
  for (const sub of ['cur', 'new', 'tmp']) mkdirSync(path.join(inbox, sub), { recursive: true });
  for (let i = 0; i < n; i++) {
    const text = `Subject: message ${i}\r\n\r\nbody ${i}\r\n`;
    writeFileSync(path.join(inbox, 'cur', `${1700000000 + i}.M${i}P1.bench,S=${text.length},W=${text.length}:2,S`), text);
  }
  const store = new MaildirStore(root, { hostname: 'bench' });
  // the folder listed whole (the first time, or the look two seconds after a change of ours,
  // maildir-folder-state): such a step is counted apart, it is not what a step itself costs
  let listings = 0;
  const list = store.list.bind(store);
  const listNames = store.listNames.bind(store);
  // (INBOX only, "" to the store: Target, small, is listed too)
  store.list = (u, f) => ((listings += f ? 0 : 1), list(u, f));
  store.listNames = (u, f) => ((listings += f ? 0 : 1), listNames(u, f));
  const folders = new MaildirFolders(store);
  const server = new ImapServer({ hostname: 'bench', folders, authenticate: (u, p) => Promise.resolve(u === user && p === password), authFailureDelayMs: 1 });
  const [bound] = await server.listen([{ host: '127.0.0.1', port: 0 }]);
  const a = await correioSession(bound.port, user, password);
  const b = await correioSession(bound.port, user, password);
  await a.run('CREATE Target');
  await a.run('SELECT INBOX');
  await b.run('SELECT INBOX');
  // the collections' times (performance.now()'s clock): a step that overlaps one is left out
  const gcTimes: [number, number][] = [];
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcTimes.push([e.startTime, e.startTime + e.duration]);
  });
  obs.observe({ entryTypes: ['gc'] });
  const samples = new Map<string, { bytes: number[]; cpu: number[]; gc: number; listed: number }>();
  let pending: { kind: string; t0: number; t1: number; bytes: number; cpu: number; listed: boolean }[] = [];
  // steps back to back, so that the look maildir-folder-state takes two seconds after a change
  // of ours comes as seldom as it does for a busy client; nothing is collected between them
  const measure = async (kind: string, fn: () => Promise<unknown>): Promise<void> => {
    const l0 = listings;
    const t0 = performance.now();
    const h0 = process.memoryUsage().heapUsed;
    const c0 = process.cpuUsage();
    await fn();
    const c = process.cpuUsage(c0);
    const bytes = process.memoryUsage().heapUsed - h0;
    pending.push({ kind, t0, t1: performance.now(), bytes, cpu: c.user + c.system, listed: listings !== l0 });
  };
  /** One collection before a run of steps; their figures kept (`keep`) once the collections' times are in. */
  const run = async (keep: boolean, steps: () => Promise<void>): Promise<void> => {
    gc();
    pending = [];
    await steps();
    await sleep(20); // the observer's entries come later
    for (const p of keep ? pending : []) {
      let s = samples.get(p.kind);
      if (!s) samples.set(p.kind, (s = { bytes: [], cpu: [], gc: 0, listed: 0 }));
      if (gcTimes.some(([a, b]) => a < p.t1 && b > p.t0)) s.gc++;
      else if (p.listed) s.listed++;
      else {
        s.bytes.push(p.bytes);
        s.cpu.push(p.cpu);
      }
    }
  };
  // UIDs taken from the low end for MOVE, the next ones for EXPUNGE: one message each step
  let next = 1;
  const text = 'Subject: appended\r\n\r\nan appended message\r\n';
  for (let i = -5; i < steps; i++) {
    // five rounds to warm up
    await run(i >= 0, async () => {
      const moved = next++;
      await measure('UID MOVE 1', () => a.run(`UID MOVE ${moved} Target`));
      await measure('NOOP B (EXPUNGE)', () => b.run('NOOP'));
      await measure('APPEND 1', () => a.run(`APPEND INBOX {${text.length}+}\r\n${text}`));
      await measure('NOOP A+B (EXISTS)', () => Promise.all([a.run('NOOP'), b.run('NOOP')]));
      // the message named by URL is the folder's last of the N made (never moved nor expunged here)
      await measure('APPEND CATENATE 1', () => a.run(`APPEND INBOX CATENATE (TEXT {${text.length}+}\r\n${text} URL "/INBOX/;UID=${n}")`));
      await measure('NOOP A+B (EXISTS) ', () => Promise.all([a.run('NOOP'), b.run('NOOP')]));
      const gone = next++;
      await measure('UID STORE 1', () => a.run(`UID STORE ${gone} +FLAGS.SILENT (\\Deleted)`));
      await measure('UID EXPUNGE 1', () => a.run(`UID EXPUNGE ${gone}`));
      await measure('NOOP B (EXPUNGE) ', () => b.run('NOOP'));
    });
  }
  obs.disconnect();
  a.close();
  b.close();
  await server.close();
  await fsp.rm(root, { recursive: true, force: true });
  const out: Record<string, Figures[string]> = {};
  for (const [kind, s] of samples) out[kind] = { bytes: median(s.bytes), cpuUs: median(s.cpu), n: s.bytes.length, gc: s.gc, listed: s.listed };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === '--child') return child(args[1], Number(args[2]), Number(args[3]));
  const n = Number(args[0] ?? 100_000);
  const steps = Number(args[1] ?? 30);
  const rounds = Number(args[2] ?? 3);
  const trees = args.length > 3 ? args.slice(3).map((t) => path.resolve(t)) : [thisTree];
  console.log(`imap-folder-steps: INBOX of ${n} messages, ${steps} steps per kind, ${rounds} rounds; ${os.cpus()[0]?.model ?? '?'}, load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  const all = new Map<string, Figures[]>();
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? trees : [...trees].reverse();
    for (const tree of order) {
      const res = spawnSync(process.execPath, ['--expose-gc', '--min-semi-space-size=64', '--max-semi-space-size=64', self, '--child', tree, String(n), String(steps)], { encoding: 'utf8', maxBuffer: 1 << 24 });
      if (res.status !== 0) throw new Error(`${tree}: ${res.stderr}`);
      const figures = JSON.parse(res.stdout.trim().split('\n').pop()!) as Figures;
      all.set(tree, [...(all.get(tree) ?? []), figures]);
      console.log(`round ${r + 1} ${tree}`);
      for (const [kind, f] of Object.entries(figures)) console.log(`  ${kind.padEnd(20)} ${(f.bytes / 1024).toFixed(1).padStart(9)} KiB  ${(f.cpuUs / 1000).toFixed(2).padStart(7)} ms CPU  (${f.n} steps; left out: ${f.gc} with a GC, ${f.listed} with a listing)`);
    }
  }
  console.log('medians over the rounds (KiB allocated, ms CPU per step):');
  for (const [tree, rs] of all) {
    console.log(`  ${tree}`);
    for (const kind of Object.keys(rs[0])) {
      console.log(`    ${kind.padEnd(20)} ${(median(rs.map((f) => f[kind].bytes)) / 1024).toFixed(1).padStart(9)} KiB  ${(median(rs.map((f) => f[kind].cpuUs)) / 1000).toFixed(2).padStart(7)} ms`);
    }
  }
}

await main();
