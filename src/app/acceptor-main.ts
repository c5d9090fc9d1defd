/**
 * @module acceptor-main
 * The program an acceptor process runs (forked by acceptor-pool.ts with the configuration
 * file's path and the number of acceptors as its arguments): acceptor-process.ts until it is told to stop.
 * Standards: sysexits(3) (70 when it cannot start; the server starts another).
 * Security: see acceptor-process.ts.
 * Limitations: not a command of its own: only the server starts it.
 */
import { runAcceptor } from './acceptor-process.js';

runAcceptor(process.argv[2] ?? '', Number(process.argv[3] ?? '1')).catch((err: unknown) => {
  process.stderr.write(`correio acceptor: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(70);
});
