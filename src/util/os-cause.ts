/**
 * @module os-cause
 * The OS condition under an error: its errno code (EADDRINUSE, EACCES …) and where it arose
 * (the system call, the path, the address and port), as plain data that can cross a process
 * boundary (an acceptor process tells the server why it could not start: app/acceptor-pool.ts)
 * and be described to an operator (cli/os-errors.ts).
 * Standards: POSIX errno names (Node's err.code for a system error).
 * Security: none. Limitations: other codes (SQLite's, Node's ERR_*) are not OS conditions here.
 */

/** An OS condition: its errno code, and where, as far as the error says. */
export interface OsCause {
  readonly code: string;
  readonly syscall?: string;
  readonly path?: string;
  readonly address?: string;
  readonly port?: number;
}

/** Whether `code` is an errno name (E and capitals). */
export function isErrnoCode(code: unknown): code is string {
  return typeof code === 'string' && /^E[A-Z]+$/.test(code);
}

/** The OS condition of `err` (its errno code and where), if it has one. */
export function osCause(err: unknown): OsCause | undefined {
  if (!(err instanceof Error)) return undefined;
  const e = err as Error & Partial<Record<keyof OsCause, unknown>>;
  if (!isErrnoCode(e.code)) return undefined;
  return {
    code: e.code,
    ...(typeof e.syscall === 'string' && { syscall: e.syscall }),
    ...(typeof e.path === 'string' && { path: e.path }),
    ...(typeof e.address === 'string' && { address: e.address }),
    ...(typeof e.port === 'number' && { port: e.port }),
  };
}
