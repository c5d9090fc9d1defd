/**
 * t-40: `[delivery] worker = true`: the queue runner, transports and notifier run in a worker
 * thread. Mail still reaches a mailbox; the worker's events reach the main thread's mail log;
 * control requests (hold, release, bounce, delete) are answered by the worker's runner; a bounce
 * re-enters through the worker's own intake; stop() ends the worker and the spool reopens.
 * DeliveryThread itself: a worker that dies is restarted, one that cannot start fails the start.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { parseConfig, type Config } from '../../src/config/index.js';
import { openDirectory } from '../../src/directory/index.js';
import { startApp, type RunningApp } from '../../src/app/index.js';
import { DeliveryThread } from '../../src/app/delivery-thread.js';
import { startMailLog, type MailLog } from '../../src/log/index.js';
import type { Envelope } from '../../src/core/index.js';
import type { FsQueueStore } from '../../src/queue/index.js';
import { freePort } from '../helpers/net.js';
import { sendMail, waitFor } from '../helpers/site.js';

let dir: string;
let config: Config;
let app: RunningApp | undefined;
let log: MailLog;
const lines: { level: string; msg: string; obj: Record<string, unknown> }[] = [];

async function envelopes(): Promise<Envelope[]> {
  const out: Envelope[] = [];
  for await (const e of app!.backends.store.walkEnvelopes()) out.push(e);
  return out;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'correio-t40-'));
  const port = await freePort();
  const dead = await freePort(); // nothing listens: remote attempts are refused
  const text =
    `hostname = "mx.localhost"\ndata_dir = "var"\nlocal_domains = ["localhost"]\n` +
    `[smtp]\nlisten = ["127.0.0.1:${port}"]\n` +
    `[delivery]\nworker = true\nretry_min = "1h"\nretry_max = "2h"\nsmtp_timeout = "5s"\n` +
    `[delivery.routes]\n"remote.test" = "smtp:[127.0.0.1]:${dead}"\n` +
    `[log]\nlevel = "silent"\n`;
  const file = join(dir, 'correio.toml');
  await writeFile(file, text);
  config = parseConfig(text, { file, baseDir: dir, absoluteFile: file });
  assert.equal(config.delivery.worker, true);
  const directory = await openDirectory(config);
  await directory.addUser('suzana@localhost');
  await directory.close();
  const rec = (level: string) => (obj: object, msg: string) => void lines.push({ level, msg, obj: obj as Record<string, unknown> });
  log = startMailLog({ info: rec('info'), warn: rec('warn'), error: rec('error') });
  app = await startApp(config, { logger: pino({ level: 'silent' }) });
});
after(async () => {
  await app?.stop();
  log.stop();
  await rm(dir, { recursive: true, force: true });
});

const target = (): { host: string; port: number } => app!.smtpAddresses()[0];

test('local delivery runs in the worker; its events reach the main thread mail log', async () => {
  assert.equal(app!.runner, undefined, 'no runner in the main thread');
  const r = await sendMail(target(), 'jacques@remote.test', ['suzana@localhost'], 'Subject: t40\n\nvia the worker\n');
  const id = /queued as (\S+)$/.exec(r.final ?? '')?.[1];
  assert.ok(id, r.final);
  const delivered = await waitFor('the delivered line', () => lines.find((l) => l.msg === 'delivered' && l.obj.messageId === id));
  assert.equal(delivered.obj.recipient, 'suzana@localhost');
  assert.equal(delivered.obj.route, 'local:suzana@localhost');
  await waitFor('the spool to empty', async () => (await envelopes()).length === 0);
});

test('control requests are answered by the worker runner; a bounce re-enters through its intake', async () => {
  const r = await sendMail(target(), 'suzana@localhost', ['bob@remote.test'], 'Subject: far\n\nto a dead host\n');
  const id = /queued as (\S+)$/.exec(r.final ?? '')?.[1];
  assert.ok(id, r.final);
  await waitFor('a deferred attempt', async () => (await envelopes()).find((e) => e.messageId === id && e.attempts.length > 0));
  assert.ok(lines.some((l) => l.msg === 'deferred' && l.obj.messageId === id), 'the deferred line came through');

  assert.deepEqual(await app!.control({ op: 'hold', id }), { ok: true, count: 1 });
  assert.equal((await envelopes()).find((e) => e.messageId === id)?.held, true);
  assert.deepEqual(await app!.control({ op: 'flush', id }), { ok: true, count: 0 }, 'held stays held');
  assert.deepEqual(await app!.control({ op: 'hold', id: 'nosuchid' }), { ok: true, count: 0 });

  // bounce: the worker's notifier sends the failure notice through the worker's intake
  const before = lines.filter((l) => l.msg === 'delivered' && l.obj.recipient === 'suzana@localhost').length;
  assert.deepEqual(await app!.control({ op: 'bounce', id }), { ok: true, count: 1 });
  await waitFor('the notice to be delivered', () => lines.filter((l) => l.msg === 'delivered' && l.obj.recipient === 'suzana@localhost').length > before);
  await waitFor('the spool to empty', async () => (await envelopes()).length === 0);
  assert.ok(lines.some((l) => l.msg === 'received' && l.obj.sender === ''), 'the notice was received with the null sender');
});

test('delete through the worker; stop ends it and the spool opens again as owner', async () => {
  const r = await sendMail(target(), 'suzana@localhost', ['carol@remote.test'], 'Subject: gone\n\ndelete me\n');
  const id = /queued as (\S+)$/.exec(r.final ?? '')?.[1];
  assert.ok(id, r.final);
  await waitFor('a deferred attempt', async () => (await envelopes()).find((e) => e.messageId === id && e.attempts.length > 0));
  assert.deepEqual(await app!.control({ op: 'delete', id }), { ok: true, count: 1 });
  assert.equal((await envelopes()).length, 0);

  await app!.stop();
  app = await startApp(config, { logger: pino({ level: 'silent' }) });
  assert.equal((app.backends.store as FsQueueStore).owner, true, 'the restarted app owns the spool again: the stop released its lock');
  assert.deepEqual(await app.control({ op: 'ping' }), { ok: true });
});

test('a worker that dies is logged and started again; one that cannot start fails the start', async () => {
  const scratch = await mkdtemp(join(tmpdir(), 'correio-t40w-'));
  try {
    // ready, then dies at once: the first time only (a marker file)
    const marker = join(scratch, 'died');
    const dying = join(scratch, 'dying.mjs');
    await writeFile(
      dying,
      `import { parentPort } from 'node:worker_threads';\nimport { existsSync, writeFileSync } from 'node:fs';\n` +
        `parentPort.postMessage({ t: 'ready' });\n` +
        `parentPort.on('message', (m) => { if (m.t === 'stop') parentPort.postMessage({ t: 'stopped' }); ` +
        `if (m.t === 'rpc') parentPort.postMessage({ t: 'rpc', id: m.id, res: { ok: true, count: 7 } }); });\n` +
        `if (!existsSync(${JSON.stringify(marker)})) { writeFileSync(${JSON.stringify(marker)}, 'x'); setTimeout(() => { throw new Error('boom'); }, 10); }\n`,
    );
    const errors: string[] = [];
    const logger = { info: () => undefined, warn: () => undefined, error: (_o: object, msg: string) => void errors.push(msg) };
    const t = new DeliveryThread({ config, logger, entry: pathToFileURL(dying) });
    await t.start();
    await waitFor('a restart', () => t.restarts === 1);
    assert.ok(errors.includes('delivery worker error'), errors.join('; '));
    assert.ok(errors.includes('delivery worker exited unexpectedly; restarting it'), errors.join('; '));
    // the control request waits for the new worker and is answered by it
    assert.deepEqual(await t.control({ op: 'flush' }), { ok: true, count: 7 });
    await t.stop();

    const failing = join(scratch, 'failing.mjs');
    await writeFile(failing, `import { parentPort } from 'node:worker_threads';\nparentPort.postMessage({ t: 'fatal', error: { message: 'no spool' } });\n`);
    const f = new DeliveryThread({ config, logger, entry: pathToFileURL(failing) });
    await assert.rejects(f.start(), /delivery worker failed: no spool/);
    await f.stop();
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
});
