/**
 * @module acceptor-main
 * The program an acceptor process runs (forked by acceptor-pool.ts with the number of
 * acceptors as its argument; the configuration comes over IPC): acceptor-process.ts until it is
 * told to stop.
 * Standards: sysexits(3) (70 when it cannot start; the server starts another).
 * Security: see acceptor-process.ts.
 * Limitations: not a command of its own: only the server starts it.
 */
import { runAcceptor } from './acceptor-process.js';

runAcceptor(Number(process.argv[2] ?? '1')).catch((err: unknown) => {
  process.stderr.write(`correio acceptor: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(70);
});
