/**
 * @module imap-folder-paths
 * `node dist/bench/imap-folder-paths.js N [ROUNDS] [WORK]`: the CPU (this process, user +
 * system) of the folder operations issue 14's session 11 made O(changes), on one Maildir
 * folder of N messages, in process (no server, no text index: nothing runs beside them):
 * COPY and MOVE of one message, changesSince a recent MODSEQ (CONDSTORE/QRESYNC and JMAP
 * Email/changes) and one older than what the change log covers, a session's VANISHED (EARLIER),
 * and building a session's view at SELECT. Each figure is the mean of ROUNDS calls. CPU time,
 * unlike wall time, hardly moves with the load of a shared box; run two builds (before and
 * after) alternately to compare them: the module paths are relative, so this file copied into
 * an older dist/bench runs against that build.
 * Standards: RFC 9051 §6.4.7–§6.4.8 (COPY, MOVE), RFC 7162 (CHANGEDSINCE, VANISHED).
 * Security: a temp dir only (WORK is reused when given: the folder is filled once).
 * Limitations: one folder, one process; store and session layers only (no IMAP parsing).
 */
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fill } from './jmap-bench.js';
import { MaildirFolders, MaildirStore } from '../src/mailbox/index.js';
import { SelectedMailbox } from '../src/server/imap/selected-mailbox.js';

const n = Number(process.argv[2] ?? 100_000);
const rounds = Number(process.argv[3] ?? 20);
const work = process.argv[4] ?? (await fsp.mkdtemp(path.join(os.tmpdir(), 'imap-folder-paths-')));
const user = 'bench@localhost';

const root = path.join(work, 'mail');
const inbox = path.join(root, 'localhost', 'bench');
const stamp = path.join(work, `filled-${n}`);
if (!(await fsp.stat(stamp).catch(() => undefined))) {
  await fsp.rm(root, { recursive: true, force: true });
  await fill(inbox, n);
  await fsp.writeFile(stamp, '');
}
// each run starts from the folder as filled: the UID lists and other folders of a run before go
for (const name of await fsp.readdir(inbox)) if (name.startsWith('correio-') || name.startsWith('.')) await fsp.rm(path.join(inbox, name), { recursive: true, force: true });
await fsp.rm(path.join(root, 'localhost', 'bench', 'correio-uidvalidity'), { force: true });

const store = new MaildirStore(root, { hostname: 'bench' });
const folders = new MaildirFolders(store);
const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
async function timed(what: string, f: (i: number) => Promise<unknown>, times = rounds): Promise<void> {
  const c0 = cpuMs();
  const t0 = performance.now();
  for (let i = 0; i < times; i++) await f(i);
  console.log(`${what}: CPU ${((cpuMs() - c0) / times).toFixed(2)} ms, wall ${((performance.now() - t0) / times).toFixed(2)} ms (mean of ${times})`);
}

await timed(`N=${n} first sync`, () => folders.sync(user, 'INBOX'), 1);
await folders.createFolder(user, 'Other');
const snap = await folders.sync(user, 'INBOX');
// changes to make the MODSEQs differ: every 1,000th message flagged, one STORE at a time
for (let i = 0; i < 50; i++) await folders.updateFlags(user, 'INBOX', [snap.messages[i * 1000 % snap.messages.length].uid], { mode: 'add', flags: 'F' });
const modes = { condstore: true, qresync: true, rev2: true };
await timed('SELECT: a session view built', async () => {
  const s = new SelectedMailbox(user, 'INBOX', false, folders, modes);
  await s.open();
});
const keyAt = (i: number): string => snap.messages[snap.messages.length / 2 + i].key;
await timed('COPY of one message (store)', (i) => folders.copy(user, 'INBOX', [keyAt(i)], 'Other'));
await timed('MOVE of one message (store)', (i) => folders.move(user, 'INBOX', [keyAt(rounds + i)], 'Other'));
const top = (await folders.sync(user, 'INBOX')).highestModseq;
await timed('changesSince HIGHESTMODSEQ-5', () => folders.changesSince(user, 'INBOX', top - 5));
await timed('changesSince 1 (every message)', () => folders.changesSince(user, 'INBOX', 1), Math.max(1, rounds / 4));
const sel = new SelectedMailbox(user, 'INBOX', false, folders, modes);
await sel.open();
await timed('VANISHED (EARLIER) since HIGHESTMODSEQ-5', () => sel.vanishedEarlier(top - 5, undefined));
