/**
 * @module maildrop-locks
 * Exclusive, non-waiting locks on maildrops, one holder per user at a time.
 * Standards: RFC 1939 §4 (the server acquires an exclusive-access lock on the maildrop after
 *   authentication), RFC 2449 §8.1.2 ([IN-USE] when it cannot).
 * Security: keys are normalized user addresses, never raw client input.
 * Limitations: in-process only; two correio processes serving the same Maildir do not see each
 *   other's locks.
 */

export class MaildropLocks {
  private readonly held = new Set<string>();

  /** Takes the lock; false when another session holds it (no waiting). */
  tryAcquire(user: string): boolean {
    if (this.held.has(user)) return false;
    this.held.add(user);
    return true;
  }

  release(user: string): void {
    this.held.delete(user);
  }

  isLocked(user: string): boolean {
    return this.held.has(user);
  }
}
