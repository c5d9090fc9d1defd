/**
 * @module append-command
 * APPEND: one message, or several at once (MULTIAPPEND), into a mailbox, with flags, keywords
 * and an internal date; UTF-8 (RFC 6855) messages are stored as sent, binary (literal8) ones too
 * when the store keeps their octets exactly, or refused with UNKNOWN-CTE (its exactOctets).
 * Standards: RFC 9051 §6.3.12 (APPEND, TRYCREATE when the mailbox does not exist), RFC 3502
 *   (MULTIAPPEND: all messages or none), RFC 4315 (APPENDUID, a UID set for several), RFC
 *   7889 (APPENDLIMIT, TOOBIG), RFC 3516 §4.4 (APPEND of literal8: UNKNOWN-CTE where the store
 *   would alter it), RFC 6855 §4 (UTF8 data),
 *   RFC 4469 (CATENATE, made by catenate.ts), RFC 5530 (response codes).
 * Security: each message is bounded by the APPENDLIMIT (and a whole command by the framing);
 *   nothing is stored before every message of the command was checked.
 * Limitations: the messages are held in memory (bounded as above; a literal from append-stream's
 *   threshold on is streamed to the store there instead, and a CATENATE part of a message of that
 *   size is read from its file as the store writes); a MULTIAPPEND is all or
 *   none across a crash where the store has appendMany (Maildir, PostgreSQL), otherwise only
 *   a failure the server sees is undone.
 */
import { findByUid } from '../../core/index.js';
import type { AppendMessage, ImapCommand } from '../../protocol/imap/index.js';
import { formatSequenceSet } from '../../protocol/imap/index.js';
import { catenate, CatenatedStream } from './catenate.js';
import { folderError, folderName } from './mailbox-names.js';
import { overQuota, overQuotaNow } from './quota-commands.js';
import { splitFlags } from './message-flags.js';
import { bad, no, ok, type SessionIo, type TaggedResult } from './session-types.js';

interface Checked {
  readonly m: AppendMessage;
  /** the octets: the literal's, or the CATENATE message's (a stream when it has a part of a big message) */
  readonly body: Buffer | CatenatedStream;
  readonly letters: string;
  readonly keywords: string[];
}

const sizeOf = (body: Buffer | CatenatedStream): number => (Buffer.isBuffer(body) ? body.length : body.size);

/** RFC 3516 §4.4: the NO a binary APPEND gets when the store would alter its octets. */
export const unknownCte = (io: SessionIo): TaggedResult => no(io.ctx.folders.exactOctets!.why, 'UNKNOWN-CTE');

/**
 * RFC 3516 §4.4: a message's binary content (its literal8, or a CATENATE TEXT part's, each part
 * on its own) that the store would not give back exactly refuses the APPEND; a plain literal is
 * stored as the store keeps it (line ends normalised).
 */
export function binaryRefusal(io: SessionIo, m: AppendMessage): TaggedResult | undefined {
  const rule = io.ctx.folders.exactOctets;
  if (!rule) return undefined;
  const binary = m.catenate ? m.catenate.flatMap((p) => ('text' in p && p.binary ? [p.text] : [])) : m.binary ? [m.message] : [];
  return binary.every((octets) => rule.check()(octets)) ? undefined : unknownCte(io);
}

/** Every message checked before any is stored; the refusal of the first bad one. */
function check(io: SessionIo, messages: readonly (readonly [AppendMessage, Buffer | CatenatedStream])[]): Checked[] | TaggedResult {
  const out: Checked[] = [];
  for (const [m, body] of messages) {
    const size = sizeOf(body);
    if (size > io.ctx.appendLimit) return no('Message too large', 'TOOBIG');
    if (size === 0) return no('Empty message', 'CANNOT');
    const cte = binaryRefusal(io, m);
    if (cte) return cte;
    const flags = splitFlags(m.flags);
    if (!flags) return bad('Invalid system flag');
    out.push({ m, body, letters: flags.letters, keywords: flags.keywords });
  }
  return out;
}

export async function append(io: SessionIo, c: Extract<ImapCommand, { name: 'APPEND' }>): Promise<TaggedResult> {
  const name = folderName(io, c.mailbox);
  if (name === undefined) return no('Invalid mailbox name', 'CANNOT');
  // RFC 9051 §6.3.12: a mailbox that does not exist is TRYCREATE, whatever else is wrong
  // (RFC 4469 §5: also before the URLs of a CATENATE are looked at)
  // answered without a promise when the store knows (folderExistsNow), as the quota below
  try {
    if (!(io.ctx.folders.folderExistsNow?.(io.user, name) ?? (await io.ctx.folders.folderExists(io.user, name)))) return no('Mailbox does not exist', 'TRYCREATE');
  } catch (err) {
    return folderError(err);
  }
  // RFC 4469: each CATENATE message is made first; a bad URL refuses the whole command
  const messages: (readonly [AppendMessage, Buffer | CatenatedStream])[] = [];
  for (const m of c.messages) {
    if (!m.catenate) {
      messages.push([m, m.message]);
      continue;
    }
    const made = await catenate(io, m.catenate);
    if (!Buffer.isBuffer(made) && !(made instanceof CatenatedStream)) return made;
    messages.push([m, made]);
  }
  const checked = check(io, messages);
  if (!Array.isArray(checked)) return checked;
  const uids: number[] = [];
  let uidValidity = 0;
  try {
    // RFC 9208 §5.3: all the messages must fit under the quota, or none is stored
    const size = checked.reduce((n, x) => n + sizeOf(x.body), 0);
    const now = overQuotaNow(io, size, checked.length);
    const full = now === 'ask' ? await overQuota(io, size, checked.length) : now;
    if (full) return full;
    const folders = io.ctx.folders;
    const streamed = checked.some((x) => !Buffer.isBuffer(x.body));
    if ((checked.length > 1 || streamed) && folders.appendMany) {
      // RFC 3502: all or none, also if the server dies half-way (the store's batch); a stream
      // read as it is written (a CATENATE of a big message), its file removed if the read fails
      const r = await folders.appendMany(io.user, name, checked.map(({ m, body, letters, keywords }) => ({ message: Buffer.isBuffer(body) ? body : body.stream(), flags: letters, keywords, ...(m.date !== undefined && { receivedAt: m.date }) })));
      uids.push(...r.uids);
      uidValidity = r.uidValidity;
    }
    for (const { m, body, letters, keywords } of uids.length > 0 ? [] : checked) {
      const r = await io.ctx.folders.append(io.user, name, Buffer.isBuffer(body) ? body : body.stream(), {
        flags: letters,
        keywords,
        ...(m.date !== undefined && { receivedAt: m.date }),
      });
      uids.push(r.uid);
      uidValidity = r.uidValidity;
    }
  } catch (err) {
    // RFC 3502 §6.3.11: when not every message can be appended, none is
    await undo(io, name, uids);
    // a message a CATENATE URL names could not be read meanwhile: read-failure's answer
    const failed = checked.find((x) => !Buffer.isBuffer(x.body) && x.body.failed)?.body;
    if (failed instanceof CatenatedStream && failed.failed) return failed.failed.result;
    return folderError(err);
  } finally {
    if (uids.length > 0) {
      io.ctx.hub.notify(io.user, name);
      if (io.selected?.folder === name) io.selected.dirty = true;
    }
  }
  return ok('APPEND completed', `APPENDUID ${uidValidity} ${formatSequenceSet(uids)}`);
}

/** Removes the messages of `uids` from `folder` (a MULTIAPPEND that failed half-way, in a store without appendMany). */
export async function undo(io: SessionIo, folder: string, uids: readonly number[]): Promise<void> {
  if (uids.length === 0) return;
  try {
    const snap = await io.ctx.folders.sync(io.user, folder);
    // each found by search in the snapshot's list: O(uids · log n), no array of the folder made
    for (const uid of uids) {
      const m = findByUid(snap.list, uid);
      if (m) await io.ctx.folders.remove(io.user, folder, m.key);
    }
  } catch {
    // the store fails as a whole: what could not be undone stays (Limitations)
  }
}
