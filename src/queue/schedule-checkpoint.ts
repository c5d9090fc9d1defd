/**
 * @module schedule-checkpoint
 * The queue runner's schedule saved in the files spool at a clean stop (issue 19), so that a
 * restart on a big queue needs not read every envelope before deliveries start: `<spool>/schedule`
 * holds one line per queued envelope, `<time> <envelope id> <state>`, the time the runner next
 * looks at it (0: at once; `-`: not by itself, a held envelope waiting for the operator) and its
 * state (q queued, d deferred, h held, n notice-pending: the queue gauges count them without
 * reading envelopes), then `end <count>`. A file of version 1 (no states, an older correio's)
 * is read too. The next start takes it (reads it and removes it, the removal made durable
 * before anything in the spool changes), so a crash after that start finds none and the runner
 * reads the whole spool again, in the background while serving. Any change to a queued envelope
 * made without the runner (the offline CLI) removes the file first: its times would be stale.
 * Messages added while no server ran (`sendmail`) are not in it: the runner's first rescan
 * finds them.
 * Standards: none (our own file; written, fsynced, renamed, directory fsynced).
 * Security: ids are checked against the envelope-id form before use; anything that does not
 *   parse makes the whole file void (the runner then reads the spool), never a wrong schedule.
 * Limitations: the times are hints: an envelope is read back and filed by its stored state
 *   when its time comes, so only an envelope missing from a damaged-but-valid-looking file
 *   could be late, and the count at its end rules out a cut file.
 */
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { join } from 'node:path';
import { envelopeStates, messageIdOfEnvelope, type EnvelopeState, type ScheduleEntry } from '../core/index.js';
import type { DirSyncer } from '../util/index.js';
import { errorCode } from './storage-error.js';

const header = 'correio-schedule 2\n';
/** an older correio's file: no states */
const headerV1 = 'correio-schedule 1\n';
/** a state's letter in the file, in envelopeStates' order */
const letters = 'qdhn';
const stateOf = (letter: string): EnvelopeState | undefined => envelopeStates[letters.indexOf(letter)];
/** a line of the file, built in chunks of about this many characters */
const chunkChars = 256 * 1024;
/** lines parsed between turns of the event loop (the listeners serve meanwhile) */
const linesPerTurn = 50_000;

export function schedulePath(spoolDir: string): string {
  return join(spoolDir, 'schedule');
}

/** Writes the schedule durably (temporary file, fdatasync, rename, directory fsync); returns the count. */
export async function writeSchedule(spoolDir: string, syncer: DirSyncer, entries: Iterable<ScheduleEntry>): Promise<number> {
  const path = schedulePath(spoolDir);
  const tmp = `${path}.tmp`;
  const fh = await open(tmp, 'w', 0o600);
  let n = 0;
  try {
    let chunk = header;
    for (const e of entries) {
      const letter = e.state === undefined ? '' : ` ${letters[envelopeStates.indexOf(e.state)]}`;
      chunk += `${e.at === Infinity ? '-' : Math.max(0, Math.floor(e.at))} ${e.id}${letter}\n`;
      n++;
      if (chunk.length >= chunkChars) {
        await fh.write(chunk);
        chunk = '';
      }
    }
    await fh.write(`${chunk}end ${n}\n`);
    await fh.datasync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  await syncer.sync(spoolDir);
  return n;
}

/** Removes the schedule (and a temporary left by a crash) durably; nothing when there is none. */
export async function dropSchedule(spoolDir: string, syncer: DirSyncer): Promise<void> {
  const path = schedulePath(spoolDir);
  let removed = false;
  for (const p of [path, `${path}.tmp`]) {
    try {
      await unlink(p);
      removed = true;
    } catch (err) {
      if (errorCode(err) !== 'ENOENT') throw err;
    }
  }
  if (removed) await syncer.sync(spoolDir);
}

/**
 * Reads and removes the schedule: its entries, or undefined when there is none or it does not
 * parse whole (the caller then reads the spool). The removal is durable when this resolves.
 */
export async function takeSchedule(spoolDir: string, syncer: DirSyncer): Promise<ScheduleEntry[] | undefined> {
  let buf: Buffer;
  try {
    buf = await readFile(schedulePath(spoolDir));
  } catch (err) {
    if (errorCode(err) !== 'ENOENT') throw err;
    await dropSchedule(spoolDir, syncer);
    return undefined;
  }
  await dropSchedule(spoolDir, syncer);
  return parseSchedule(buf);
}

/**
 * The entries of a schedule file, or undefined unless every line parses and the count matches;
 * it gives the event loop a turn every `linesPerTurn` lines (a million lines take a second or more).
 */
export async function parseSchedule(buf: Buffer): Promise<ScheduleEntry[] | undefined> {
  const head = buf.toString('latin1', 0, header.length);
  if (head !== header && head !== headerV1) return undefined;
  const out: ScheduleEntry[] = [];
  let pos = header.length;
  while (pos < buf.length) {
    if (out.length % linesPerTurn === linesPerTurn - 1) await nextTurn();
    const nl = buf.indexOf(10, pos);
    if (nl < 0) return undefined;
    const sp = buf.indexOf(32, pos);
    if (sp < 0 || sp > nl) return undefined;
    const first = buf.toString('latin1', pos, sp);
    // fresh strings (not slices of one big one), as the scheduler keeps the ids
    // version 2: the state's letter after the id (a line without one is read as version 1's)
    const lettered = nl - sp > 3 && buf[nl - 2] === 32;
    const rest = buf.toString('latin1', sp + 1, lettered ? nl - 2 : nl);
    const state = lettered ? stateOf(String.fromCharCode(buf[nl - 1])) : undefined;
    pos = nl + 1;
    if (first === 'end') return pos === buf.length && rest === String(out.length) ? out : undefined;
    if (lettered && state === undefined) return undefined;
    const at = first === '-' ? Infinity : /^\d{1,16}$/.test(first) ? Number(first) : NaN;
    if (Number.isNaN(at) || messageIdOfEnvelope(rest) === undefined) return undefined;
    out.push(state === undefined ? { id: rest, at } : { id: rest, at, state });
  }
  return undefined;
}
