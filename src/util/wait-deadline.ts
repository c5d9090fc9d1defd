/**
 * @module wait-deadline
 * The deadline of a connection's wait for input (the servers' line-connection.ts, the SMTP
 * client's wait for each reply), with one timer for all of its waits: the timer fires at the deadline it was set for, and a later wait whose deadline is
 * no earlier keeps it (when it fires before that wait's deadline it is set again for the rest).
 * A session waits several times per message (seven in the accept benchmark: greeting, HELO,
 * MAIL, RCPT, DATA, the body, QUIT); making and clearing a timer for each was a few per cent of
 * the accepting process's CPU. The SMTP client waits four times per message it relays (MAIL,
 * RCPT, DATA, the final "."), each with a timer and a Promise.race before.
 * Standards: none.
 * Security: a wait still ends at its own deadline (issue 12 item 5: a line's deadline is not
 *   renewed by each octet), never later.
 * Limitations: the timer keeps the process running until it fires or the connection closes
 *   (close() stops it), as the per-wait timers did while a wait was in progress, unless made
 *   with `unref` (the SMTP client: its socket holds the process while a reply is awaited, and
 *   a session kept idle for reuse must not).
 */
export class WaitDeadline {
  /** the deadline of the wait in progress (0: none) */
  #deadline = 0;
  #timer: NodeJS.Timeout | undefined;
  /** when the timer fires */
  #at = 0;
  readonly #expire: () => void;
  readonly #unref: boolean;

  /** `expire` is called when a wait's deadline has passed; `unref`: the timer holds no process open. */
  constructor(expire: () => void, opts: { unref?: boolean } = {}) {
    this.#expire = expire;
    this.#unref = opts.unref ?? false;
  }

  /** A wait begins that must end by `deadline` (ms since the epoch). */
  start(deadline: number): void {
    this.#deadline = deadline;
    if (this.#timer !== undefined && this.#at <= deadline) return;
    clearTimeout(this.#timer);
    this.#set(deadline);
  }

  /** The wait ended (the timer is kept for the next one). */
  stop(): void {
    this.#deadline = 0;
  }

  /** The connection is gone: no more waits. */
  close(): void {
    this.#deadline = 0;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #set(at: number): void {
    this.#at = at;
    this.#timer = setTimeout(this.#fire, Math.max(1, at - Date.now()));
    if (this.#unref) this.#timer.unref();
  }

  readonly #fire = (): void => {
    this.#timer = undefined;
    const d = this.#deadline;
    if (d === 0) return; // nobody waits: the next wait sets it again
    if (d > this.#at) this.#set(d);
    else this.#expire();
  };
}
