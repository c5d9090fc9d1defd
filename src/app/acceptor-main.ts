/**
 * @module acceptor-main
 * The program an acceptor process runs (forked by acceptor-pool.ts with the number of
 * acceptors as its argument; the configuration comes over IPC): acceptor-process.ts until it is
 * told to stop.
 * Standards: sysexits(3) (70 when it cannot start: it tells the server why first, which logs
 *   it and, at the server's own start, fails that start; later it starts another, backing off).
 * Security: see acceptor-process.ts.
 * Limitations: not a command of its own: only the server starts it.
 */
import { osCause } from '../util/index.js';
import type { AcceptorMessage } from './acceptor-pool.js';
import { runAcceptor } from './acceptor-process.js';

runAcceptor(Number(process.argv[2] ?? '1')).catch((err: unknown) => {
  const error = err instanceof Error ? err.message : String(err);
  const failed: AcceptorMessage = { t: 'failed', error, os: osCause(err) };
  // the server names the cause (its log, its start's one line); without it, stderr does
  if (process.connected && process.send) process.send(failed, undefined, {}, () => process.exit(70));
  else {
    process.stderr.write(`correio acceptor: ${error}\n`);
    process.exit(70);
  }
});
