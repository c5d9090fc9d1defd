/**
 * @module imap-child
 * An IMAP server in a process of its own, for tests that kill it (kill -9 during a command):
 * `node dist/test/helpers/imap-child.js ROOT` serves the Maildir tree ROOT on a loopback port
 * for suzana@dc.uece.br (password "secret") and prints "port N" once it listens.
 * Security: test only; loopback only.
 */
import { MaildirFolders, MaildirStore } from '../../src/mailbox/index.js';
import { ImapServer } from '../../src/server/imap/index.js';

const root = process.argv[2];
if (!root) {
  process.stderr.write('usage: imap-child ROOT\n');
  process.exit(64);
}
const server = new ImapServer({
  hostname: 'mx.dc.uece.br',
  folders: new MaildirFolders(new MaildirStore(root, { hostname: 'mx' })),
  authenticate: (u, p) => Promise.resolve(u === 'suzana@dc.uece.br' && p === 'secret'),
  authFailureDelayMs: 1,
});
const [bound] = await server.listen([{ host: '127.0.0.1', port: 0 }]);
process.stdout.write(`port ${bound.port}\n`);
process.on('SIGTERM', () => void server.close().then(() => process.exit(0)));
