/**
 * @module spool-layout
 * Where the files backend keeps things under its spool directory, and the `format` file that
 * names the layout:
 *
 *   tmp/<id>          a draft: the body as it streams in; never a message (tmp/<id>.h: the
 *                     same with a header put before it, MessageDraft.prepend, until renamed)
 *   seg/<segid>       records of small messages (segment-log.ts); seg/<segid>.done: delivered ones
 *   msg/<id>          a committed message (spool-format.ts); renaming into msg/ commits it
 *   env/<id>.json     envelope override, written once the envelopes change after commit
 *   corrupt/          items found damaged, moved aside for the operator, never deleted
 *   format            "correio-spool 3": the layout (3 = format 2's files plus seg/; a format-2
 *                     spool is read as it is and its format file rewritten)
 *   lock              pid of the process that owns recovery (spool-lock.ts)
 *   schedule          the queue runner's schedule saved at a clean stop, taken at the next
 *                     start (schedule-checkpoint.ts)
 *
 * Old spools (format 1: msg/<id> bodies without footer beside env/<id>.json) are refused with
 * an error naming the spool: no `format` file in a spool that holds messages.
 * Standards: none (our own layout; Postfix's queue directories are the model).
 * Security: a message id is checked against the queue-id alphabet before it becomes a path;
 *   directories are made 0700.
 * Limitations: none.
 */
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { isQueueId, MailError, replies, type MessageId } from '../core/index.js';
import { atomicWriteFile } from '../util/index.js';
import { errorCode, storageError } from './storage-error.js';

/** the file naming a spool's layout: also what tells a correio spool from another (the system's /var/spool) */
export const spoolFormatName = 'format';
/** the layout named in the `format` file: 3 adds seg/ to format 2's files (read both) */
const spoolLayout = 3;
const formatText = `correio-spool ${spoolLayout}\n`;
const formatTextV2 = `correio-spool 2\n`;

/** The directories and files of one spool. */
export class SpoolPaths {
  readonly dir: string;
  readonly tmp: string;
  readonly msg: string;
  readonly env: string;
  readonly corrupt: string;
  readonly seg: string;

  constructor(dir: string) {
    this.dir = dir;
    this.tmp = join(dir, 'tmp');
    this.msg = join(dir, 'msg');
    this.env = join(dir, 'env');
    this.corrupt = join(dir, 'corrupt');
    this.seg = join(dir, 'seg');
  }

  /** The committed message file of `id` (throws on an id that is not a queue id). */
  message(id: MessageId): string {
    if (!isQueueId(id)) throw new MailError(replies.localError(), 'MAIL_ERR_BAD_QUEUE_ID');
    // an id is one name of a strict alphabet (core/envelope.ts isQueueId): nothing for join() to normalize
    return `${this.msg}${sep}${id}`;
  }

  /** The env override of `id` (the caller has checked the id). */
  override(id: MessageId): string {
    return `${this.env}${sep}${id}.json`;
  }

  /** The draft file of `id` (the caller has checked the id). */
  draft(id: MessageId): string {
    return `${this.tmp}${sep}${id}`;
  }

  segment(segId: string): string {
    return join(this.seg, segId);
  }

  doneLog(segId: string): string {
    return join(this.seg, `${segId}.done`);
  }

  /** Makes the spool's directories (and the spool's own) where missing. */
  async make(): Promise<void> {
    for (const d of [this.dir, this.tmp, this.msg, this.env, this.corrupt, this.seg]) await mkdir(d, { recursive: true, mode: 0o700 });
  }

  /**
   * Checks (or, in a new spool, writes) the `format` file. Rejects a spool of another format
   * with an Error naming it; a format-2 spool gets the layout-3 name before any segment exists.
   */
  async checkFormat(): Promise<void> {
    const path = join(this.dir, spoolFormatName);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if (errorCode(err) !== 'ENOENT') throw storageError(err);
      const used = (await readdir(this.msg)).length > 0 || (await readdir(this.env)).some((n) => n.endsWith('.json'));
      if (used) {
        throw new Error(
          `spool ${this.dir} is in the format of an older correio (env/<id>.json beside msg/<id>, no "format" file); ` +
            `this correio reads spool formats 2 and ${spoolLayout} only: deliver that queue with the older version, or move the spool away`,
        );
      }
      // durable before any message is committed: a spool with messages and no format file is refused
      await atomicWriteFile(path, formatText);
      return;
    }
    if (text === formatTextV2) {
      // format 2 is format 3 without segments: name the new layout before any segment is written
      await atomicWriteFile(path, formatText);
      return;
    }
    if (text !== formatText) throw new Error(`spool ${this.dir}: unsupported format ${JSON.stringify(text.trim())}, expected "${formatText.trim()}"`);
  }
}
