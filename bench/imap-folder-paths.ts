/**
 * @module imap-folder-paths
 * `node dist/bench/imap-folder-paths.js N [ROUNDS] [WORK]`: the CPU (this process, user +
 * system) of the folder operations issue 14's session 11 made O(changes), on one Maildir
 * folder of N messages, in process (no server, no text index: nothing runs beside them):
 * COPY and MOVE of one message, changesSince a recent MODSEQ (CONDSTORE/QRESYNC and JMAP
 * Email/changes) and one older than what the change log covers, a session's VANISHED (EARLIER),
 * and building a session's view at SELECT; then the same through correio's IMAP server in this
 * process over a loopback socket (the client's share of the CPU is small for these commands):
 * NOOP, UID FETCH of one message, UID COPY and UID MOVE of one, UID FETCH 1:* CHANGEDSINCE
 * VANISHED and SELECT (QRESYNC) with a recent MODSEQ. Each figure is the mean of ROUNDS calls. CPU time,
 * unlike wall time, hardly moves with the load of a shared box; run two builds (before and
 * after) alternately to compare them: the module paths are relative, so this file copied into
 * an older dist/bench runs against that build. Each figure starts two seconds after the last
 * change (see settle); one that lasts longer holds a listing of the folder's names per two
 * seconds, as a busy folder does.
 * Standards: RFC 9051 §6.4.7–§6.4.8 (COPY, MOVE), RFC 7162 (CHANGEDSINCE, VANISHED).
 * Security: a temp dir only (WORK is reused when given: the folder is filled once).
 * Limitations: one folder, one process, no fetch cache on disk and no text index.
 */
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fill, message } from './jmap-bench.js';
import { correioSession } from './imap-load.js';
import { MaildirFolders, MaildirStore } from '../src/mailbox/index.js';
import { ImapServer } from '../src/server/imap/index.js';
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
// each run starts from the folder as filled: the messages a run before moved come back, its
// copies, UID lists and other folders go
for (const sub of ['cur', 'new']) {
  const other = path.join(inbox, '.Other', sub);
  for (const name of await fsp.readdir(other).catch(() => [] as string[])) {
    if (name.includes('.bench,')) await fsp.rename(path.join(other, name), path.join(inbox, 'cur', name));
  }
}
for (const name of await fsp.readdir(inbox)) if (name.startsWith('correio-') || name.startsWith('.')) await fsp.rm(path.join(inbox, name), { recursive: true, force: true });
// and any lost (a run cut short) written again, so that the folder holds N
const present = new Set((await fsp.readdir(path.join(inbox, 'cur'))).map((name) => Number(/\.M(\d+)P1\.bench,/.exec(name)?.[1] ?? -1)));
for (let j = 0; j < n; j++) {
  if (present.has(j)) continue;
  const text = Buffer.from(message(j));
  const crlf = text.length + (text.toString('latin1').match(/\n/g)?.length ?? 0);
  await fsp.writeFile(path.join(inbox, 'cur', `${1_700_000_000 + j}.M${j}P1.bench,S=${text.length},W=${crlf}:2,${j % 2 ? 'S' : ''}`), text);
}
await fsp.rm(path.join(root, 'localhost', 'bench', 'correio-uidvalidity'), { force: true });

const store = new MaildirStore(root, { hostname: 'bench' });
const folders = new MaildirFolders(store);
const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
/**
 * Two seconds after the last change the INBOX's next step lists its names once (the unsure
 * window, maildir-folder-state): taken before each figure, so that a figure shorter than two
 * seconds holds none, and every one starts alike.
 */
async function settle(): Promise<void> {
  await new Promise((r) => setTimeout(r, 2100));
  await folders.sync(user, 'INBOX');
}
async function timed(what: string, f: (i: number) => Promise<unknown>, times = rounds, first = false): Promise<void> {
  if (!first) await settle();
  const c0 = cpuMs();
  const t0 = performance.now();
  for (let i = 0; i < times; i++) await f(i);
  console.log(`${what}: CPU ${((cpuMs() - c0) / times).toFixed(2)} ms, wall ${((performance.now() - t0) / times).toFixed(2)} ms (mean of ${times})`);
}

await timed(`N=${n} first sync`, () => folders.sync(user, 'INBOX'), 1, true);
await folders.createFolder(user, 'Other');
const snap = await folders.sync(user, 'INBOX');
// changes to make the MODSEQs differ: every 1,000th message flagged, one STORE at a time
for (let i = 0; i < 50; i++) await folders.updateFlags(user, 'INBOX', [snap.list.at(i * 1000 % snap.list.length)!.uid], { mode: 'add', flags: 'F' });
const modes = { condstore: true, qresync: true, rev2: true };
let listingMs = 0;
await timed('SELECT: a session view built', async () => {
  const s = new SelectedMailbox(user, 'INBOX', false, folders, modes);
  await s.open();
});
const keyAt = (i: number): string => snap.list.at((snap.list.length >> 1) + i)!.key;
await timed('COPY of one message (store)', (i) => folders.copy(user, 'INBOX', [keyAt(i)], 'Other'));
await timed('MOVE of one message (store)', (i) => folders.move(user, 'INBOX', [keyAt(rounds + i)], 'Other'));
const top = (await folders.sync(user, 'INBOX')).highestModseq;
await timed('changesSince HIGHESTMODSEQ-5', () => folders.changesSince(user, 'INBOX', top - 5));
await timed('changesSince 1 (every message)', () => folders.changesSince(user, 'INBOX', 1), Math.max(1, rounds / 4));
const sel = new SelectedMailbox(user, 'INBOX', false, folders, modes);
await sel.open();
await timed('VANISHED (EARLIER) since HIGHESTMODSEQ-5', () => sel.vanishedEarlier(top - 5, undefined));

// the listing of the folder's names two seconds after a change of ours (the unsure window): a
// busy folder pays it once per two seconds, so a figure that lasts longer holds some
await timed('listing of the names two seconds after a change (unsure window)', async (i) => {
  await folders.updateFlags(user, 'INBOX', [snap.list.at(i)!.uid], { mode: 'add', flags: 'D' });
  await new Promise((r) => setTimeout(r, 2100));
  const c0 = cpuMs();
  await folders.sync(user, 'INBOX');
  listingMs += cpuMs() - c0;
}, 3);
console.log(`  of which the listing's sync: CPU ${(listingMs / 3).toFixed(2)} ms`);

// the same through the IMAP server, one session with the INBOX selected
const server = new ImapServer({ hostname: 'bench', folders, authenticate: () => Promise.resolve(true), authFailureDelayMs: 1 });
const [bound] = await server.listen([{ host: '127.0.0.1', port: 0 }]);
try {
  const s = await correioSession(bound.port, user, 'x');
  await s.run('ENABLE QRESYNC');
  const inbox = await folders.sync(user, 'INBOX');
  const uidValidity = inbox.uidValidity;
  await s.run('SELECT INBOX');
  const uidAt = (i: number): number => inbox.list.at((inbox.list.length >> 2) + i)!.uid;
  await timed('IMAP NOOP', () => s.run('NOOP'));
  await timed('IMAP UID FETCH of one message (FLAGS)', (i) => s.run(`UID FETCH ${uidAt(i)} (FLAGS)`));
  await timed('IMAP UID COPY of one message', (i) => s.run(`UID COPY ${uidAt(i)} Other`));
  await timed('IMAP UID MOVE of one message', (i) => s.run(`UID MOVE ${uidAt(rounds + i)} Other`));
  const high = (await folders.sync(user, 'INBOX')).highestModseq;
  await timed('IMAP UID FETCH 1:* (FLAGS) (CHANGEDSINCE HIGHESTMODSEQ-5 VANISHED)', () => s.run(`UID FETCH 1:* (FLAGS) (CHANGEDSINCE ${high - 5} VANISHED)`));
  await timed('IMAP SELECT INBOX (QRESYNC (uidvalidity HIGHESTMODSEQ-5))', () => s.run(`SELECT INBOX (QRESYNC (${uidValidity} ${high - 5}))`));
  s.close();
} finally {
  await server.close();
}
