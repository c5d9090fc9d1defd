/**
 * @module read-results
 * What a read on a LineConnection gives instead of a line or octets: the peer closed, the
 * whole-line deadline passed, the line was longer than its limit (discarded to its end), or
 * the server interrupted the wait (a shutdown); and what waiting for input ends in.
 * Standards: none.
 * Security: none.
 * Limitations: none.
 */
export const TIMEOUT = Symbol('timeout');
export const CLOSED = Symbol('closed');
export const LONG = Symbol('long');
/** interrupt() was called while waiting (a server shutting down) */
export const INTERRUPTED = Symbol('interrupted');
/** why readLine returned no line */
export type LineEnd = typeof TIMEOUT | typeof CLOSED | typeof LONG | typeof INTERRUPTED;
export type LineResult = Buffer | LineEnd;
export type WaitResult = 'data' | 'closed' | 'timeout' | 'interrupted';
