/**
 * @module queue-control
 * The operator's actions on the queue, as one interface with two implementations over the same
 * transitions (queue/envelope-transitions.ts): online, the running server's dispatcher (reached
 * by the CLI through the control socket), and offline, directly on the store when no server
 * runs. An id is a message id (all its envelopes) or an envelope id (that one envelope); each
 * action returns how many envelopes it applied to.
 * Standards: seed §2 (deferred mail kept and retried); RFC 3464 (bounce = failure notice).
 * Security: administrative operations; callers check the operator's rights.
 * Limitations: none.
 */
export interface QueueControl {
  /** makes envelopes due now (all when id is undefined); held ones stay held */
  flush(id?: string): Promise<number>;
  /** stops delivery attempts until released */
  hold(id: string): Promise<number>;
  /** releases held envelopes: due now */
  release(id: string): Promise<number>;
  /** removes envelopes without any notice (the message goes with its last envelope) */
  delete(id: string): Promise<number>;
  /** fails envelopes now (5.0.0): the sender gets a failure notice, then they are removed */
  bounce(id: string): Promise<number>;
}
