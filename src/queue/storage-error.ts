/**
 * @module storage-error
 * Maps file-system and database errors to the SMTP reply a client should get.
 * Standards: RFC 3463 §3.4 (4.3.1 mail system full, 4.3.0 other mail system status),
 *   RFC 5321 §4.2.2 (452 insufficient system storage, 451 local error in processing).
 * Security: the reply never carries the OS error text (it stays in `cause` for the log).
 * Limitations: none.
 */
import { MailError, replies } from '../core/index.js';

const fullCodes = new Set(['ENOSPC', 'EDQUOT', 'EFBIG']);

/** Whether an error means "no space left" (disk full, quota, file too large). */
export function isStorageFull(err: unknown): boolean {
  return fullCodes.has((err as NodeJS.ErrnoException | undefined)?.code ?? '');
}

/** A MailError for any storage failure: 452 4.3.1 when full, else 451 4.3.0. MailErrors pass through. */
export function storageError(err: unknown): MailError {
  if (err instanceof MailError) return err;
  if (isStorageFull(err)) return new MailError(replies.insufficientStorage(), 'MAIL_ERR_STORAGE_FULL', { cause: err });
  return new MailError(replies.localError(), 'MAIL_ERR_STORAGE_IO', { cause: err });
}

/** The errno code of a file-system error ('ENOENT', ...), if it has one. */
export function errorCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/** A missing message, reported as the files backend reports it (an ENOENT error). */
export function noSuchMessage(id: string): Error {
  return Object.assign(new Error(`message ${id}: not in the queue`), { code: 'ENOENT' });
}
