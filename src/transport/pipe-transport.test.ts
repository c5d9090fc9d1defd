import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { DeliveryRequest, Envelope } from '../core/index.js';
import { testEnvelope } from '../../test/helpers/delivery-request.js';
import { withTempDir } from '../../test/helpers/temp-dir.js';
import { CrlfToLf, parsePipeRoute, PipeTransport } from './pipe-transport.js';

const skip = existsSync('/bin/sh') ? false : 'needs /bin/sh for the test scripts';

function request(argv: string[], message: string): DeliveryRequest {
  const route = { transport: 'pipe', nextHop: JSON.stringify(argv) };
  const env = (id: string): Envelope =>
    testEnvelope({
      id,
      messageId: 'm1',
      sender: { local: 'helvecio', domain: 'dsc.ufpb.br' },
      recipient: { local: 'robot', domain: 'dc.uece.br' },
      originalRecipient: { local: 'robot', domain: 'dc.uece.br' },
      route,
      size: message.length,
    });
  return {
    route,
    messageId: 'm1',
    sender: { local: 'helvecio', domain: 'dsc.ufpb.br' },
    envelopes: [env('e1'), env('e2')],
    size: message.length,
    openMessage: async () => Readable.from([Buffer.from(message.slice(0, 9)), Buffer.from(message.slice(9))]),
  };
}

async function withScripts(fn: (dir: string, script: (name: string, body: string) => Promise<string>) => Promise<void>): Promise<void> {
  await withTempDir('correio-pipe-', async (dir) => {
    // Run as root, the transport drops to uid 65534: let that user reach the scripts and outputs.
    await chmod(dir, 0o777);
    await fn(dir, async (name, body) => {
      const p = join(dir, name);
      await writeFile(p, `#!/bin/sh\n${body}\n`);
      await chmod(p, 0o755);
      return p;
    });
  });
}

const message = 'Subject: hello\r\n\r\nline one\r\nline two\r\n';

void test('pipe: exit 0 is delivered; stdin has LF ends, Return-Path, Delivered-To; argv is not shell-parsed', { skip }, async () => {
  await withScripts(async (dir, script) => {
    const out = join(dir, 'out');
    const argFile = join(dir, 'arg');
    const s = await script('ok.sh', 'cat > "$1"\nprintf %s "$2" > "$3"\nprintf %s "$SENDER" > "$1.sender"\nexit 0');
    const res = await new PipeTransport().deliver(request([s, out, 'a b; touch pwned', argFile], message), new AbortController().signal);
    assert.deepEqual(res.map((r) => [r.envelopeId, r.action, r.status]), [['e1', 'delivered', '2.0.0'], ['e2', 'delivered', '2.0.0']]);
    assert.equal(await readFile(out, 'utf8'), 'Return-Path: <helvecio@dsc.ufpb.br>\nDelivered-To: robot@dc.uece.br\nSubject: hello\n\nline one\nline two\n');
    assert.equal(await readFile(argFile, 'utf8'), 'a b; touch pwned');
    assert.equal(await readFile(`${out}.sender`, 'utf8'), 'helvecio@dsc.ufpb.br');
    assert.equal(existsSync(join(dir, 'pwned')), false);
  });
});

void test('pipe: never runs a command as root', { skip }, async () => {
  await withScripts(async (dir, script) => {
    const out = join(dir, 'uid');
    const s = await script('id.sh', 'id -u > "$1"');
    const res = await new PipeTransport({ uid: 65534, gid: 65534 }).deliver(request([s, out], message), new AbortController().signal);
    assert.equal(res[0].action, 'delivered');
    const uid = Number((await readFile(out, 'utf8')).trim());
    assert.equal(uid, process.getuid?.() === 0 ? 65534 : process.getuid?.());
  });
});

void test('pipe: exit 75 (EX_TEMPFAIL) is delayed 4.3.0', { skip }, async () => {
  await withScripts(async (_dir, script) => {
    const s = await script('tmp.sh', 'cat > /dev/null\necho "try again later" >&2\nexit 75');
    const res = await new PipeTransport().deliver(request([s], message), new AbortController().signal);
    assert.deepEqual(res.map((r) => [r.action, r.status]), [['delayed', '4.3.0'], ['delayed', '4.3.0']]);
    assert.match(res[0].error ?? '', /status 75: try again later/);
  });
});

void test('pipe: exit 1 fails 5.3.0 with the first line of stderr', { skip }, async () => {
  await withScripts(async (_dir, script) => {
    const s = await script('bad.sh', 'echo "no such ticket queue" >&2\necho "second line" >&2\nexit 1');
    const res = await new PipeTransport().deliver(request([s], message), new AbortController().signal);
    assert.deepEqual(res.map((r) => [r.action, r.status]), [['failed', '5.3.0'], ['failed', '5.3.0']]);
    assert.match(res[0].error ?? '', /exited with status 1: no such ticket queue$/);
  });
});

void test('pipe: a command that hangs is killed at the time limit and delayed', { skip }, async () => {
  await withScripts(async (_dir, script) => {
    const s = await script('hang.sh', 'exec sleep 30');
    const res = await new PipeTransport({ timeoutMs: 300 }).deliver(request([s], message), new AbortController().signal);
    assert.equal(res[0].action, 'delayed');
    assert.match(res[0].error ?? '', /time limit/);
  });
});

void test('pipe: a missing command fails; a bad route fails', async () => {
  const res = await new PipeTransport().deliver(request(['/nonexistent/correio-robot'], message), new AbortController().signal);
  assert.equal(res[0].action, 'failed');
  assert.match(res[0].error ?? '', /cannot execute .*ENOENT/);
  const bad = await new PipeTransport().deliver({ ...request(['x'], message), route: { transport: 'pipe', nextHop: 'rm -rf /' } }, new AbortController().signal);
  assert.deepEqual([bad[0].action, bad[0].status], ['failed', '5.3.5']);
});

void test('parsePipeRoute and CrlfToLf', async () => {
  assert.deepEqual(parsePipeRoute('["/bin/x","-v"]'), { command: ['/bin/x', '-v'] });
  assert.equal(parsePipeRoute('[]'), undefined);
  assert.equal(parsePipeRoute('[1]'), undefined);
  assert.equal(parsePipeRoute('/bin/x'), undefined);
  const t = new CrlfToLf();
  const chunks: Buffer[] = [];
  t.on('data', (d: Buffer) => chunks.push(d));
  t.write(Buffer.from('a\r'));
  t.write(Buffer.from('\nb\r\nc\xe9\r', 'latin1'));
  t.end();
  await new Promise((r) => t.on('end', r));
  assert.equal(Buffer.concat(chunks).toString('latin1'), 'a\nb\nc\xe9\r');
});
