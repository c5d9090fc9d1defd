/**
 * @module imap-fetch-cpu
 * `node dist/bench/imap-fetch-cpu.js N [APPENDS] [WORK]`: correio's server CPU (its process
 * tree, /proc) for `UID FETCH 1:* (FLAGS ENVELOPE)` on an INBOX of N messages (issue 14): the
 * first FETCH after the first SELECT, a second and third (warm), the first after a restart
 * (disk cache), five NOOPs (each a sync of the selected INBOX) and APPENDS APPENDs into a small folder while the INBOX is selected. CPU
 * time, unlike wall time, hardly moves with the load of a shared box; run two trees (before and
 * after) side by side to compare them. The client's own CPU is printed beside (it is part of the
 * wall time).
 * Standards: RFC 9051 (SELECT, FETCH, APPEND), RFC 7888 (LITERAL+).
 * Security: loopback only, a temp dir.
 * Limitations: one session; each figure is one command (or the APPENDs' mean), after the server
 *   has been idle for a second (the background text indexing done).
 */
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startCorreio } from './correio-instance.js';
import { fill, message } from './jmap-bench.js';
import { correioSession } from './imap-load.js';
import { sleep, treeCpuSeconds } from './peers.js';

const n = Number(process.argv[2] ?? 20_000);
const appends = Number(process.argv[3] ?? 100);
const work = process.argv[4] ?? (await fsp.mkdtemp(path.join(os.tmpdir(), 'imap-fetch-cpu-')));
const user = 'bench@localhost';
const password = 'bench-secret';

/** Waits until the server used under 20 ms of CPU in a second (its background work done). */
async function quiet(pid: number): Promise<void> {
  for (let c = treeCpuSeconds(pid); ; ) {
    await sleep(1000);
    const now = treeCpuSeconds(pid);
    if (now - c < 0.02) return;
    c = now;
  }
}

const start = (again: boolean): ReturnType<typeof startCorreio> => startCorreio(path.join(work, 'correio'), {
  users: again ? [] : [user], password, imap: true, logLevel: 'warn',
  // e.g. --cpu-prof, as run-bench.ts's scenarios take them
  nodeFlags: (process.env.BENCH_CORREIO_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean),
});
const timed = async (pid: number, what: string, f: () => Promise<void>, per = 1): Promise<void> => {
  await quiet(pid);
  const c0 = treeCpuSeconds(pid);
  const me = process.cpuUsage();
  const t0 = performance.now();
  await f();
  const cpu = ((treeCpuSeconds(pid) - c0) * 1000) / per;
  const wall = (performance.now() - t0) / per;
  const used = process.cpuUsage(me);
  const client = (used.user + used.system) / 1000 / per;
  console.log(`${what}: server CPU ${cpu.toFixed(1)} ms, client CPU ${client.toFixed(1)} ms, wall ${wall.toFixed(1)} ms${per > 1 ? ' (per command)' : ''}`);
};
const fetchAll = (run: (c: string) => Promise<string>) => async (): Promise<void> => {
  const r = await run('UID FETCH 1:* (FLAGS ENVELOPE)');
  const got = r.match(/^\* \d+ FETCH/gm)?.length ?? 0;
  if (got !== n) throw new Error(`FETCH gave ${got} of ${n}`);
};

let correio = await start(false);
try {
  const inbox = path.join(correio.dataDir, 'mail', 'localhost', 'bench');
  await fill(inbox, n);
  const pid = correio.child.pid!;
  const s = await correioSession(correio.imapPort, user, password);
  await timed(pid, `N=${n} first SELECT`, async () => void (await s.run('SELECT INBOX')));
  // what the first SELECT started in the background (the text index, and the fetch cache filled from its reads)
  const b0 = treeCpuSeconds(pid);
  await quiet(pid);
  console.log(`background work after the first SELECT: server CPU ${((treeCpuSeconds(pid) - b0) * 1000).toFixed(0)} ms`);
  await timed(pid, 'FETCH 1:* first', fetchAll(s.run));
  await timed(pid, 'FETCH 1:* second', fetchAll(s.run));
  await timed(pid, 'FETCH 1:* third', fetchAll(s.run));
  // each NOOP syncs the selected folder (RFC 9051 §6.1.2), as any command a second after the last
  await timed(pid, 'NOOP x5, INBOX selected', async () => {
    for (let i = 0; i < 5; i++) await s.run('NOOP');
  }, 5);
  await s.run('CREATE Small');
  await timed(pid, `APPEND x${appends} into Small, INBOX selected`, async () => {
    for (let i = 0; i < appends; i++) {
      const text = message(n + i).replace(/\n/g, '\r\n');
      await s.run(`APPEND Small (\\Seen) {${Buffer.byteLength(text)}+}\r\n${text}`);
    }
  }, appends);
  s.close();
  await correio.stop();
  correio = await start(true);
  const pid2 = correio.child.pid!;
  const r = await correioSession(correio.imapPort, user, password);
  await timed(pid2, 'after restart SELECT', async () => void (await r.run('SELECT INBOX')));
  await timed(pid2, 'after restart FETCH 1:*', fetchAll(r.run));
  r.close();
} finally {
  await correio.stop();
  if (!process.argv[4]) await fsp.rm(work, { recursive: true, force: true });
}
