import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MaildirFolders, MaildirStore } from '../../mailbox/index.js';
import { parseMimeTree } from '../../protocol/imap/index.js';
import { MessageReader } from './message-reader.js';

const user = 'suzana@dc.uece.br';

/** A message whose header block is about `size` octets (padding in one X-Pad field), in CRLF or LF. */
function message(size: number, nl: string): Buffer {
  const head = `Subject: pad ${size}${nl}From: a@b.example${nl}X-Pad: `;
  const tail = `${nl}To: c@d.example${nl}${nl}`;
  const pad = 'p'.repeat(Math.max(0, size - head.length - tail.length));
  return Buffer.from(`${head}${pad}${tail}body line${nl}`.repeat(1));
}

void test('headers: the header block read in 4 KiB reads gives parseMimeTree\'s fields wherever its end falls, and for a long block', async () => {
  const root = await mkdtemp(join(tmpdir(), 'correio-reader-'));
  try {
    const folders = new MaildirFolders(new MaildirStore(root, { hostname: 'mx' }));
    const sizes = [10, ...Array.from({ length: 9 }, (_, i) => 4096 - 4 + i), 8190, 8192, 8194, 300_000];
    const bodies: Buffer[] = [];
    for (const nl of ['\r\n', '\n']) {
      for (const size of sizes) {
        const m = message(size, nl);
        bodies.push(m);
        await folders.append(user, 'INBOX', m, { flags: '' });
      }
    }
    const snap = await folders.sync(user, 'INBOX');
    assert.equal(snap.list.length, bodies.length);
    let i = 0;
    for (const m of snap.list) {
      const fields = await new MessageReader(folders).headers(user, 'INBOX', m.key);
      const want = parseMimeTree(bodies[i]).fields;
      assert.deepEqual(fields, want, `message ${i} (${bodies[i].length} octets)`);
      assert.ok(fields.some((f) => f.name.toLowerCase() === 'to'), `message ${i}: the field after the padding is read`);
      i++;
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
