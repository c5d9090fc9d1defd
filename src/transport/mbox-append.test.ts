import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { withTempDir } from '../../test/helpers/temp-dir.js';
import { appendMbox, appendMboxAs, type MboxAppendOptions } from './mbox-append.js';

const opts: MboxAppendOptions = { mode: 0o600, lockTimeoutMs: 2000, staleLockMs: 60_000, lockRetryMs: 20 };
const me = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
const signal = (): AbortSignal => new AbortController().signal;

async function* chunks(parts: string[], failAfter?: number): AsyncGenerator<Uint8Array> {
  for (const [i, p] of parts.entries()) {
    if (failAfter !== undefined && i >= failAfter) throw new Error('message store unreadable');
    yield Buffer.from(p);
  }
}

void test('mbox-append: the child writer (the routine as its own program) appends, and truncates an interrupted write', () =>
  withTempDir('correio-mbox-', async (dir) => {
    const box = join(dir, 'box');
    await writeFile(box, 'earlier\n');
    assert.deepEqual(await appendMboxAs(me, box, chunks(['From a\n', 'body\n', '\n']), opts, signal()), { ok: true });
    assert.equal(await readFile(box, 'utf8'), 'earlier\nFrom a\nbody\n\n');
    const r = await appendMboxAs(me, box, chunks(['From b\n', 'half', 'never'], 2), opts, signal());
    assert.equal(r.ok, false);
    assert.ok(!r.ok && !r.permanent && r.status === '4.3.0', JSON.stringify(r));
    assert.equal(await readFile(box, 'utf8'), 'earlier\nFrom a\nbody\n\n', 'truncated back');
    // the same routine runs in this process for the operator's aliases
    const inProcess = await appendMbox(join(dir, 'box.lock-free'), chunks(['x\n']), opts);
    assert.deepEqual(inProcess, { ok: true });
  }));

void test('mbox-append: as another user, root\'s rights are not used (root only)', { skip: me.uid === 0 ? false : 'needs root' }, () =>
  withTempDir('correio-mbox-', async (dir) => {
    await chmod(dir, 0o777);
    const secret = join(dir, 'secret');
    await writeFile(secret, 'root data\n', { mode: 0o600 });
    const r = await appendMboxAs({ uid: 65534, gid: 65534 }, secret, chunks(['From x\n', 'pwned\n']), opts, signal());
    assert.ok(!r.ok && r.permanent && r.status === '5.3.0' && /EACCES/.test(r.why), JSON.stringify(r));
    assert.equal(await readFile(secret, 'utf8'), 'root data\n');
  }));
