/**
 * @module admin-log
 * The record of every operator action, `<data_dir>/admin.log`: queue commands (flush, hold,
 * release, delete, bounce) and directory changes (users, aliases, lists, roles, domains), each
 * with who did it (`by`) and from where (`via`: `cli` or `api`), whether a server ran or not.
 * One JSON line per action in the schema of serve's log (`level`, `time`, `hostname`, the
 * action's fields, `msg: "admin"`; docs/logging.md). Serve appends what it is told on the
 * `admin` channel (queue commands through its control socket, admin API changes), and the CLI
 * appends what it does itself (directory changes, queue commands with the server stopped):
 * the CLI changes the directory without the server, so serve's log alone would miss them.
 * Standards: none.
 * Security: 0600 in the data directory (addresses, never passwords or hashes). `by` is what
 *   the command was given ($SUDO_USER, $LOGNAME) or the API caller's login: recorded, not proof.
 * Limitations: never rotated or pruned by correio (logrotate with copytruncate, or truncate it);
 *   a record that cannot be written is lost with a warning on stderr (the action stands).
 */
import diagnostics from 'node:diagnostics_channel';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { channels } from '../core/index.js';

export function adminLogPath(dataDir: string): string {
  return join(dataDir, 'admin.log');
}

/** Appends one action's line; false (and nothing else) when the file cannot be written. */
export function appendAdminLog(dataDir: string, hostname: string, fields: Record<string, unknown>, now: number = Date.now()): boolean {
  try {
    // one write in append mode: lines of serve and of commands run at once do not interleave
    appendFileSync(adminLogPath(dataDir), `${JSON.stringify({ level: 30, time: now, hostname, ...fields, msg: 'admin' })}\n`, { mode: 0o600 });
    return true;
  } catch {
    return false;
  }
}

/** Serve's side: every `admin` event goes to the admin log too. Returns the unsubscribe. */
export function startAdminLog(dataDir: string, hostname: () => string): () => void {
  const handler = (message: unknown): void => {
    if (typeof message === 'object' && message !== null) appendAdminLog(dataDir, hostname(), message as Record<string, unknown>);
  };
  diagnostics.subscribe(channels.admin, handler);
  return () => diagnostics.unsubscribe(channels.admin, handler);
}
