/**
 * @module sendmail-runtime
 * What every sendmail mode needs around the message: who runs it, the spool (opened for the
 * command and closed after it), and the wake-up of a running server.
 * Standards: none.
 * Security: the login name comes from the environment as sendmail(8) takes it; it is recorded,
 *   not trusted for anything else.
 * Limitations: a server that does not answer the wake-up within 5 s finds the mail at its next
 *   queue pass or start.
 */
import { DeliveryHistory } from '../../log/index.js';
import { userInfo } from 'node:os';
import { MailError } from '../../core/index.js';
import type { Config } from '../../config/index.js';
import { openBackends, sendControl, type Backends } from '../../app/index.js';
import { CliError, exitCodes } from '../cli-context.js';

/** how long to wait for a running server to take the wake-up */
const WAKE_TIMEOUT_MS = 5000;

/** The login name of whoever runs the command: $USER, $LOGNAME, else the account's name. */
export function invokingUser(env: Readonly<Record<string, string | undefined>>): string {
  const fromEnv = env.USER || env.LOGNAME;
  if (fromEnv) return fromEnv;
  try {
    return userInfo().username;
  } catch {
    return 'nobody';
  }
}

/** Opens the spool and directory for `fn` and closes them after; a failure to open is 75. */
export async function withBackends<T>(config: Config, fn: (b: Backends) => Promise<T>): Promise<T> {
  let b: Backends;
  try {
    b = await openBackends(config);
  } catch (err) {
    if (err instanceof MailError || err instanceof CliError) throw err;
    throw new CliError(`cannot open the spool: ${err instanceof Error ? err.message : String(err)}`, exitCodes.tempFail);
  }
  // the message's received and queued events go to the delivery history as serve's do, so that
  // correio trace tells its arrival after it has left the queue (log/delivery-history.ts)
  const history = new DeliveryHistory({ dataDir: config.dataDir, retentionMs: config.log.history });
  try {
    history.start();
  } catch {
    // no history folder for this user: trace sees the queue only
  }
  try {
    return await fn(b);
  } finally {
    await b.close();
    await history.stop();
  }
}

/** Wakes a running server so that it delivers at once; no server: it finds the mail at start. */
export async function wake(config: Config): Promise<boolean> {
  try {
    return (await sendControl(config, { op: 'wake' }, WAKE_TIMEOUT_MS)) !== undefined;
  } catch {
    return false;
  }
}
