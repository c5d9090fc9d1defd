import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, symlink, writeFile, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { DeliveryRequest, ReversePath } from '../core/index.js';
import { chunkedStream, testEnvelope } from '../../test/helpers/delivery-request.js';
import { withTempDir } from '../../test/helpers/temp-dir.js';
import { asctime, FileTransport, MboxQuoter } from './file-transport.js';

function request(path: string, message: string, sender: ReversePath = { local: 'helvecio', domain: 'dsc.ufpb.br' }): DeliveryRequest {
  const route = { transport: 'file', nextHop: path };
  const env = testEnvelope({ id: 'e1', messageId: 'm1', sender, recipient: { local: 'archive', domain: 'dc.uece.br' }, route, size: message.length });
  const bytes = Buffer.from(message, 'latin1');
  return {
    route,
    messageId: 'm1',
    sender,
    envelopes: [env],
    size: bytes.length,
    // 5-byte chunks: "From " lines and CRLF pairs fall across chunk boundaries
    openMessage: async () => chunkedStream(bytes, 5),
  };
}

const tmp = (fn: (dir: string) => Promise<void>): Promise<void> => withTempDir('correio-file-', fn);

const now = (): Date => new Date(Date.UTC(1995, 0, 5, 9, 3, 7));

void test('file: appends in mbox format with From_ line, >From quoting, LF ends', async () => {
  await tmp(async (dir) => {
    const box = join(dir, 'archive');
    const t = new FileTransport({ now });
    const m1 = 'Subject: one\r\n\r\nFrom here on\r\n>From quoted already\r\nnot From\r\n';
    const res = await t.deliver(request(box, m1), new AbortController().signal);
    assert.deepEqual(res.map((r) => [r.action, r.status]), [['delivered', '2.0.0']]);
    await t.deliver(request(box, 'Subject: two\r\n\r\nno final newline', null), new AbortController().signal);
    assert.equal(
      await readFile(box, 'latin1'),
      'From helvecio@dsc.ufpb.br Thu Jan  5 09:03:07 1995\n' +
        'Return-Path: <helvecio@dsc.ufpb.br>\nDelivered-To: archive@dc.uece.br\n' +
        'Subject: one\n\n>From here on\n>>From quoted already\nnot From\n\n' +
        'From MAILER-DAEMON Thu Jan  5 09:03:07 1995\n' +
        'Return-Path: <>\nDelivered-To: archive@dc.uece.br\n' +
        'Subject: two\n\nno final newline\n\n',
    );
    assert.equal(existsSync(`${box}.lock`), false, 'lock released');
  });
});

void test('file: waits for a held lock, then gives up with a delay; a stale lock is broken', async () => {
  await tmp(async (dir) => {
    const box = join(dir, 'box');
    await writeFile(`${box}.lock`, '12345\n');
    const busy = await new FileTransport({ lockTimeoutMs: 250, lockRetryMs: 50 }).deliver(request(box, 'S: x\r\n\r\nb\r\n'), new AbortController().signal);
    assert.deepEqual([busy[0].action, busy[0].status], ['delayed', '4.2.0']);
    assert.match(busy[0].error ?? '', /busy/);
    assert.equal(existsSync(box), false, 'nothing written without the lock');
    assert.equal(existsSync(`${box}.lock`), true, 'someone else\'s lock is not removed');

    const old = new Date(Date.now() - 3600_000);
    await utimes(`${box}.lock`, old, old);
    const res = await new FileTransport({ staleLockMs: 60_000 }).deliver(request(box, 'S: x\r\n\r\nb\r\n'), new AbortController().signal);
    assert.equal(res[0].action, 'delivered');
    assert.match(await readFile(box, 'utf8'), /^From helvecio@dsc.ufpb.br /);
  });
});

void test('file: symbolic links and directories are refused', async () => {
  await tmp(async (dir) => {
    await writeFile(join(dir, 'target'), '');
    await symlink(join(dir, 'target'), join(dir, 'link'));
    const res = await new FileTransport().deliver(request(join(dir, 'link'), 'S: x\r\n\r\nb\r\n'), new AbortController().signal);
    assert.deepEqual([res[0].action, res[0].status], ['failed', '5.3.0']);
    assert.match(res[0].error ?? '', /symbolic link/);
    assert.equal(await readFile(join(dir, 'target'), 'utf8'), '');

    const d = await new FileTransport().deliver(request(dir, 'S: x\r\n\r\nb\r\n'), new AbortController().signal);
    assert.equal(d[0].action, 'failed');
    const rel = await new FileTransport().deliver(request('relative/box', 'S: x\r\n\r\nb\r\n'), new AbortController().signal);
    assert.deepEqual([rel[0].action, rel[0].status], ['failed', '5.3.5']);
  });
});

void test('file: a failed read leaves the mailbox as it was', async () => {
  await tmp(async (dir) => {
    const box = join(dir, 'box');
    await writeFile(box, 'From a Thu Jan  1 00:00:00 1970\nold\n\n');
    const req = request(box, 'x');
    const broken: DeliveryRequest = {
      ...req,
      openMessage: async () =>
        Readable.from((async function* () {
          yield Buffer.from('Subject: partial\r\n');
          throw new Error('disk read error');
        })()),
    };
    const res = await new FileTransport().deliver(broken, new AbortController().signal);
    assert.deepEqual([res[0].action, res[0].status], ['delayed', '4.3.0']);
    assert.equal(await readFile(box, 'utf8'), 'From a Thu Jan  1 00:00:00 1970\nold\n\n');
  });
});

void test('MboxQuoter and asctime', () => {
  const q = new MboxQuoter();
  const out = Buffer.concat([q.push(Buffer.from('Fr')), q.push(Buffer.from('om x\r\n>>From y\r')), q.push(Buffer.from('\nFrom ')), q.push(Buffer.from('z')), q.end()]).toString('latin1');
  assert.equal(out, '>From x\n>>>From y\n>From z\n');
  const q2 = new MboxQuoter();
  assert.equal(Buffer.concat([q2.push(Buffer.from('From\r\nFromage\r\n')), q2.end()]).toString('latin1'), 'From\nFromage\n');
  assert.equal(asctime(new Date(Date.UTC(2024, 11, 25, 23, 59, 1))), 'Wed Dec 25 23:59:01 2024');
});
