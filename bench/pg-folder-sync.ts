/**
 * @module pg-folder-sync
 * `node dist/bench/pg-folder-sync.js [N] [STEPS] [ROUNDS] [TREE ...]`: what a PostgreSQL
 * folder sync costs after one change (issue 14): an INBOX of N (10,000) messages synced once
 * by node A; then, per step, node B (a second store on the database) APPENDs one message and
 * A syncs. Per sync: the rows of mail_messages PostgreSQL read for it (pg_stat_user_tables
 * seq_tup_read + idx_tup_fetch, A's statistics flushed after it: a count, independent of the
 * machine's load), the CPU of this process (process.cpuUsage: the rows decoded, the snapshot
 * built) and of A's PostgreSQL backend (/proc/<pid>/stat utime + stime, in clock ticks, so
 * summed over the steps). Each TREE (a correio checkout with dist/ built; this one when none is
 * given) gets a database of its own, ROUNDS (3) times, alternated in one process (A B B A …).
 * Standards: none (a benchmark).
 * Security: a test database on $CORREIO_TEST_PG (test/helpers/pg.ts), dropped afterwards.
 * Limitations: needs PostgreSQL on this host (the backend's CPU is read from /proc).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pg from 'pg';
import { createTestDatabase } from '../test/helpers/pg.js';

interface Folders {
  sync(user: string, folder: string): Promise<{ messages: readonly unknown[] }>;
  append(user: string, folder: string, m: Buffer, opts: { flags: string }): Promise<unknown>;
  appendMany(user: string, folder: string, ms: readonly { message: Buffer; flags: string }[]): Promise<unknown>;
}
interface Store {
  query<R extends object>(sql: string, params: unknown[]): Promise<R[]>;
  close(): Promise<void>;
}
interface Tree {
  PgMailStore: { open(url: string, opts: { maxConnections: number }): Promise<Store> };
  PgMailFolders: new (s: Store) => Folders;
}

const self = fileURLToPath(import.meta.url);
const thisTree = path.resolve(path.dirname(self), '..', '..');
const user = 'bench@example.org';
const body = (n: number): Buffer => Buffer.from(`Subject: m${n}\r\nFrom: a@example.org\r\n\r\nbody ${n}\r\n`);
const tick = 1000 / 100; // ms per clock tick (USER_HZ 100 on Linux)

function backendTicks(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return Number(rest[11]) + Number(rest[12]); // utime, stime (fields 14, 15)
}

async function rowsRead(url: string, a: Store): Promise<number> {
  await a.query('SELECT pg_stat_force_next_flush()', []);
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const r = await c.query<{ n: string }>("SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) AS n FROM pg_stat_user_tables WHERE relname = 'mail_messages'");
    return Number(r.rows[0].n);
  } finally {
    await c.end();
  }
}

async function round(tree: Tree, n: number, steps: number): Promise<{ rows: number; nodeMs: number; backendMs: number }> {
  const db = await createTestDatabase();
  const a = await tree.PgMailStore.open(db.url, { maxConnections: 1 });
  const b = await tree.PgMailStore.open(db.url, { maxConnections: 1 });
  try {
    const fa = new tree.PgMailFolders(a);
    const fb = new tree.PgMailFolders(b);
    for (let i = 0; i < n; i += 1000) await fb.appendMany(user, 'INBOX', Array.from({ length: Math.min(1000, n - i) }, (_, j) => ({ message: body(i + j), flags: '' })));
    await a.query('ANALYZE mail_messages', []);
    const [{ pid }] = await a.query<{ pid: number }>('SELECT pg_backend_pid() AS pid', []);
    await fa.sync(user, 'INBOX');
    let rows = 0;
    let nodeUs = 0;
    let ticks = 0;
    for (let s = 0; s < steps; s++) {
      await fb.append(user, 'INBOX', body(n + s), { flags: '' });
      const r0 = await rowsRead(db.url, a);
      const t0 = backendTicks(pid);
      const c0 = process.cpuUsage();
      const snap = await fa.sync(user, 'INBOX');
      const c = process.cpuUsage(c0);
      ticks += backendTicks(pid) - t0;
      nodeUs += c.user + c.system;
      rows += (await rowsRead(db.url, a)) - r0;
      if (snap.messages.length !== n + s + 1) throw new Error(`sync saw ${snap.messages.length} messages, not ${n + s + 1}`);
    }
    return { rows: rows / steps, nodeMs: nodeUs / 1000 / steps, backendMs: (ticks * tick) / steps };
  } finally {
    await a.close();
    await b.close();
    await db.drop();
  }
}

const [n = 10_000, steps = 20, rounds = 3] = process.argv.slice(2, 5).map(Number);
const roots = process.argv.slice(5).length > 0 ? process.argv.slice(5) : [thisTree];
const trees = await Promise.all(roots.map(async (r) => (await import(pathToFileURL(path.join(path.resolve(r), 'dist/src/mailbox/index.js')).href)) as Tree));
for (let k = 0; k < rounds; k++) {
  const order = k % 2 === 0 ? trees.map((_, i) => i) : trees.map((_, i) => trees.length - 1 - i);
  for (const i of order) {
    const f = await round(trees[i], n, steps);
    console.log(`${roots[i]}\tround ${k + 1}\trows/sync ${f.rows.toFixed(1)}\tnode CPU ms/sync ${f.nodeMs.toFixed(2)}\tbackend CPU ms/sync ${f.backendMs.toFixed(2)}`);
  }
}
