/**
 * @module fill-spool
 * Fills a files spool with N deferred messages, as a correio whose next hop refused each one
 * once (451 4.3.0) would have left them: one msg/<id> file per message whose trailer holds one
 * envelope in state `deferred` with that attempt recorded (what FsQueueStore writes when a
 * message leaves its segment at its first deferral). The envelope is made by the real
 * transition (queue's applyResult); only the file writing skips the per-file fsync and is
 * covered by one `sync` at the end, so that a bench can fill 100,000 messages in seconds.
 * Next attempts are spread over [from, from + spread): a bench that wants a queue that only
 * waits sets `from` past its measured window.
 * Standards: none (bench tooling). Security: writes only under the spool it is given.
 * Limitations: ids are made with util's uniqueId from times before `now` (oldest first), so a
 *   filled message sorts before anything accepted later.
 */
import { execFileSync } from 'node:child_process';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Envelope, StatedEnvelope } from '../src/core/index.js';
import { FsQueueStore, RetryScheduler, applyResult, defaultRetryOptions } from '../src/queue/index.js';
import { encodeEnvelopeFile, envelopeFile, makeFooter } from '../src/queue/spool-format.js';
import { uniqueId } from '../src/util/index.js';

export interface FillOptions {
  /** messages to write */
  readonly count: number;
  /** body octets of each (default 5,120, the bench's message size) */
  readonly size?: number;
  /** the route every envelope takes (the refusing next hop) */
  readonly route: { transport: string; nextHop: string };
  /** the earliest next attempt (ms since epoch) */
  readonly from: number;
  /** next attempts spread over this many ms after `from` (default 1 h) */
  readonly spreadMs?: number;
  /** files written at once (default 32) */
  readonly parallel?: number;
}

function body(size: number): Buffer {
  const head = 'From: a@example.com\r\nTo: b@example.net\r\nSubject: deferred\r\n\r\n';
  const line = 'x'.repeat(70) + '\r\n';
  let text = head;
  while (text.length < size) text += line;
  return Buffer.from(text.slice(0, size - 2) + '\r\n');
}

/** Writes `count` deferred messages into the spool at `spoolDir` (creating it); resolves once synced. */
export async function fillDeferred(spoolDir: string, o: FillOptions): Promise<void> {
  // creates the directories and the `format` file as a real spool has them
  await (await FsQueueStore.open(spoolDir, { recover: 'never', lock: false })).close();
  const size = o.size ?? 5120;
  const data = body(size);
  const policy = new RetryScheduler(defaultRetryOptions);
  const spread = o.spreadMs ?? 3_600_000;
  const now = Date.now();
  const start = now - o.count; // one ms apart, oldest first, all in the past
  const one = async (i: number): Promise<void> => {
    const id = uniqueId(start + i);
    const arrivedAt = start + i;
    const queued: StatedEnvelope = {
      id: `${id}-1`, messageId: id,
      sender: { local: 'a', domain: 'example.com' }, recipient: { local: `r${i}`, domain: 'example.net' },
      route: o.route, arrivedAt, size, attempts: [], nextAttemptAt: 0, dsn: {}, body: '7BIT', state: 'queued',
      resolvedVia: [],
    };
    const reply = { code: 451, status: '4.3.0', lines: ['Try again later'] } as const;
    const out = applyResult(queued, { envelopeId: queued.id, action: 'delayed', status: '4.3.0', reply, remoteMta: '127.0.0.1', ip: '127.0.0.1' }, arrivedAt + 50, policy);
    const env: Envelope = { ...out.envelope!, nextAttemptAt: o.from + Math.floor((spread * i) / o.count) };
    const trailer = encodeEnvelopeFile(envelopeFile(id, [env]));
    await fsp.writeFile(path.join(spoolDir, 'msg', id), Buffer.concat([data, trailer, makeFooter(data.length, trailer)]), { mode: 0o600 });
  };
  const parallel = o.parallel ?? 32;
  let next = 0;
  await Promise.all(Array.from({ length: parallel }, async () => {
    while (next < o.count) await one(next++);
  }));
  execFileSync('sync');
}
