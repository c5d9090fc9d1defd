/**
 * t-37: imaplib2 (Debian package python3-imaplib2, a threaded Python client nobody here wrote)
 * waits in IDLE (RFC 2177) on correio's INBOX while a message is delivered into the Maildir the
 * way the queue's local delivery does; its idle() returns with the new EXISTS, and a FETCH of
 * the new message's subject and a SEARCH TEXT for its body then answer it. Skips when imaplib2
 * is not importable.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { Readable } from 'node:stream';
import { withImapServer } from '../helpers/imap-server.js';
import { pythonWithModule } from '../helpers/python.js';

const user = 'suzana@dc.uece.br';

const script = `
import sys, imaplib2
M = imaplib2.IMAP4('127.0.0.1', int(sys.argv[1]), timeout=30)
M.login(sys.argv[2], 'secret')
typ, data = M.select('INBOX')
print('SELECTED', data[0].decode(), flush=True)
typ, data = M.idle(timeout=30)
exists = M.response('EXISTS')[1]
print('IDLE', typ, exists[-1].decode() if exists and exists[-1] else 'none', flush=True)
typ, data = M.fetch('2', '(BODY.PEEK[HEADER.FIELDS (SUBJECT)])')
print('FETCH', data[0][1].decode().strip(), flush=True)
typ, data = M.search(None, 'TEXT', 'pastelaria')
print('SEARCH', data[0].decode(), flush=True)
M.logout()
`;

void test('imaplib2 in IDLE sees a delivered message at once, then FETCHes and finds it', async (t) => {
  const py = await pythonWithModule('imaplib2');
  if (!py) return t.skip('imaplib2 is not installed (Debian package python3-imaplib2)');
  await withImapServer(
    async ({ port, store }) => {
      await store.deliver(user, Readable.from([Buffer.from('Subject: first\r\n\r\nolder mail\r\n')]), { uniqueKey: 'm1' });
      const child = spawn(py, ['-c', script, String(port), user], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const done = new Promise<number | null>((resolve) => child.on('close', resolve));
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('SELECTED')) resolve();
        });
        child.on('close', () => reject(new Error(`imaplib2 ended early: ${out}\n${err}`)));
      });
      // the client is selected and about to IDLE: a delivery like the queue's local one
      await store.deliver(user, Readable.from([Buffer.from('Subject: novidade\r\n\r\nna pastelaria da esquina\r\n')]), { uniqueKey: 'm2' });
      assert.equal(await done, 0, err);
      assert.match(out, /^SELECTED 1$/m);
      assert.match(out, /^IDLE OK 2$/m);
      assert.match(out, /^FETCH Subject: novidade$/m);
      assert.match(out, /^SEARCH 2$/m);
    },
    { prefix: 'correio-t37-' },
  );
});
