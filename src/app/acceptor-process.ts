/**
 * @module acceptor-process
 * One acceptor process of `[smtp] processes` (acceptor-pool.ts): it accepts on the listening
 * sockets the server bound and passed it, runs the SMTP sessions with the same checks and
 * intake as the server's own (smtp-service.ts; connection limits and rates at its share,
 * acceptor-limits.ts), and commits messages to spool segments of its own (FsQueueStore
 * `acceptor`). After its commits it sends the server the new envelopes (those of one turn of
 * the event loop in one notice, with the records' places and bodies and the mail events of that
 * turn, on a pipe of their own: acceptor-notice.ts, acceptor-events.ts); the server delivers.
 * Events of turns without a commit wait up to 50 ms for one. Failed AUTHs go both ways. Its open
 * sessions per listener mode go to the server when they change (polled every 500 ms), for the
 * server's /metrics.
 * It stops (finishing its sessions) when told, on SIGTERM/SIGINT, or when the server is gone
 * (its IPC channel closes): what it stored after that is found by the next server's recovery.
 * Retired (a reload), it accepts no more and ends once its sessions' clients have ended them.
 * An order that comes while it starts up (retire, stop) is kept and taken once it can act on it.
 * Standards: RFC 5321 §6.1 (250 only after the message is durable in the spool).
 * Security: runs as the server's user; takes no spool lock and recovers nothing (the server does).
 * Limitations: no listeners of its own (it cannot bind: privileges are dropped), no metrics,
 *   IMAP or web; its mail-log lines go to the same stdout as the server's.
 */
import { existsSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import { pino } from 'pino';
import type { Config } from '../config/index.js';
import type { MessageId } from '../core/index.js';
import { BatchedOutput, formatTextLine, startMailLog, textWanted } from '../log/index.js';
import { AuthThrottle } from '../policy/auth-throttle.js';
import type { FsQueueStore } from '../queue/index.js';
import type { ListenHandle } from '../server/connection/index.js';
import { osCause } from '../util/index.js';
import type { SharedListener } from '../server/smtp/index.js';
import { acceptorShare } from './acceptor-limits.js';
import { openBackends } from './backends.js';
import { collectEvents } from './acceptor-events.js';
import { encodeNotice, noticeFd, type QueuedOut } from './acceptor-notice.js';
import type { AcceptorMessage, AcceptorOrder } from './acceptor-pool.js';
import { buildSmtpService } from './smtp-service.js';
import { loadOrMakeTls } from './tls-files.js';

/** how often the open sessions are looked at (and told to the server when they changed) */
const sessionsEveryMs = 500;
/** how long mail events wait for a commit to go with (a notice each would cost both processes a wake-up) */
const eventsAloneMs = 50;
/** the notice being gathered: each body as the pieces its record was appended from (no copy) */
type Pending = Omit<QueuedOut, 'bodies'> & { bodies: Map<MessageId, readonly Buffer[]> };
/** how long a stop waits for the last notice to be written */
const noticeEndMs = 2_000;

/**
 * The configuration the server sends first (acceptor-pool.ts); rejects if the server is gone
 * before. The orders that come after it while the acceptor starts up (a reload's 'retire' to
 * an old set's acceptor restarted meanwhile, an auth failure) are kept in `early` for it to
 * take once it can act on them, not lost.
 */
function configFromServer(early: { m: AcceptorOrder; handle: unknown }[]): Promise<{ config: Config; stopKeeping: () => void }> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: AcceptorOrder, handle: unknown): void => {
      if (m.t !== 'config') {
        early.push({ m, handle });
        return;
      }
      process.off('disconnect', onGone);
      resolve({ config: m.config, stopKeeping: () => process.off('message', onMessage) });
    };
    const onGone = (): void => reject(new Error('the server went before it sent the configuration'));
    process.on('message', onMessage);
    process.once('disconnect', onGone);
  });
}

/** Whether this process removed `path` (of several trying, one does). */
function removed(path: string): boolean {
  try {
    unlinkSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs an acceptor, one of `acceptors`, with the configuration the server sends, until it is
 * told to stop.
 */
export async function runAcceptor(acceptors: number): Promise<void> {
  const early: { m: AcceptorOrder; handle: unknown }[] = [];
  const { config, stopKeeping } = await configFromServer(early);
  // a test hook (under the test runner only): an acceptor that can never start ('start'), or
  // only while a file is there ('file:PATH', for the acceptors of a reload: t-97), or only the
  // one that removes the file ('once:PATH': one of a reload's new acceptors, t-97)
  const fail = process.env.CORREIO_TEST === '1' ? process.env.CORREIO_TEST_ACCEPTOR_FAIL : undefined;
  if (fail === 'start' || (fail?.startsWith('file:') && existsSync(fail.slice('file:'.length))) || (fail?.startsWith('once:') && removed(fail.slice('once:'.length)))) {
    throw new Error('made to fail at its start (CORREIO_TEST_ACCEPTOR_FAIL)');
  }
  const text = textWanted(config.log.format, false);
  const output = new BatchedOutput(1, text ? { transform: formatTextLine } : {});
  process.on('exit', () => output.flushSync());
  const logger = pino({ level: config.log.level, base: { hostname: config.hostname, role: 'acceptor' } }, output);
  // its lines only: the server counts and keeps its events, relayed (acceptor-events.ts)
  const mailLog = startMailLog(logger, output, { keep: false });
  // a test hook: segments of at most this many octets (1: one record each; t-02 has hundreds removed while notices come)
  const segmentLimit = process.env.CORREIO_TEST === '1' ? Number(process.env.CORREIO_TEST_SEGMENT_LIMIT ?? 0) : 0;
  const backends = await openBackends(config, { watchAliases: true, serving: true, spool: { acceptor: true, ...(segmentLimit > 0 && { segmentLimit }) } });
  const send = (m: AcceptorMessage): void => {
    // the server gone: the messages are in the spool; its successor's recovery finds them
    if (process.connected) process.send?.(m, undefined, {}, () => undefined);
  };
  const store = backends.store as FsQueueStore;
  // the notices go on a pipe of their own (fd 4, acceptor-notice.ts), the bodies as they are
  const notices = new net.Socket({ fd: noticeFd, readable: false, writable: true });
  // the server gone (EPIPE): the messages are in the spool; its successor's recovery finds them
  notices.on('error', () => undefined);
  // the commits of one turn of the event loop go in one notice, with where each record went
  // and its body, so the server takes them in and delivers without reading the segment (and
  // the mail events of that turn, received and queued before the envelopes they are about:
  // acceptor-events.ts); events of turns without a commit (a connection, a rejection) wait up
  // to eventsAloneMs for one, so that they do not cost a notice each
  let pending: Pending | undefined;
  let soon = false;
  let later: NodeJS.Timeout | undefined;
  const flush = (): void => {
    clearTimeout(later);
    later = undefined;
    soon = false;
    const q = pending;
    pending = undefined;
    if (!q || notices.destroyed) return;
    notices.cork();
    for (const b of encodeNotice(q)) notices.write(b);
    notices.uncork();
  };
  const batch = (commit: boolean): Pending => {
    pending ??= { envelopes: [], places: new Map(), events: [], bodies: new Map() };
    if (commit && !soon) {
      soon = true;
      setImmediate(flush);
    } else if (!soon && !later) later = setTimeout(flush, eventsAloneMs).unref();
    return pending;
  };
  const stopEvents = collectEvents((e) => batch(false).events.push(e));
  backends.setOnQueued((envs) => {
    const b = batch(true);
    for (const e of envs) {
      b.envelopes.push(e);
      const placed = b.places.has(e.messageId) ? undefined : store.placeOf(e.messageId);
      if (placed) {
        b.places.set(e.messageId, placed.ref);
        b.bodies.set(e.messageId, placed.body);
      }
    }
  });
  const t = await loadOrMakeTls(config);
  const tls = 'error' in t ? undefined : { key: t.key, cert: t.cert };
  const authThrottle = new AuthThrottle({
    maxFailuresPerAddress: config.auth.maxFailuresPerAddress,
    maxFailuresPerAccount: config.auth.maxFailuresPerAccount,
    windowMs: config.auth.failureWindow,
    onFailure: (address, account) => send({ t: 'auth-failed', address, account }),
  });
  const service = buildSmtpService(acceptorShare(config, acceptors), backends, { tls, authThrottle });

  // the open sessions per mode for the server's /metrics, told when they change
  let told = '[]';
  const sessions = setInterval(() => {
    const counts = service.smtp.connectionsByMode();
    const now = JSON.stringify(counts);
    if (now === told) return;
    told = now;
    send({ t: 'sessions', counts });
  }, sessionsEveryMs);
  sessions.unref();

  let stopping: Promise<void> | undefined;
  const stop = (exitCode = 0): Promise<void> =>
    (stopping ??= (async () => {
      clearInterval(sessions);
      // the listeners close first: a successor server can bind the ports again
      await service.smtp.close();
      stopEvents();
      flush();
      // the last notice written before the exit (not waited for when the server is gone or
      // does not read: a lost notice is made up by its rescan at this exit)
      if (!notices.destroyed) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, noticeEndMs).unref();
          notices.once('close', () => {
            clearTimeout(timer);
            resolve();
          });
          notices.end();
        });
      }
      service.close();
      await backends.close();
      mailLog.stop();
      await output.stop();
      process.exit(exitCode);
    })());
  // a reload's old acceptor: no more connections, and an end once its sessions have ended
  let retiring: Promise<void> | undefined;
  const retire = (): Promise<void> =>
    (retiring ??= (async () => {
      await service.smtp.stopListening();
      // the server answers the reload once the old acceptors accept no more
      send({ t: 'retired' });
      await service.smtp.sessionsEnded();
      await stop();
    })());
  const shared: SharedListener[] = [];
  const onOrder = (m: AcceptorOrder, handle: unknown): void => {
    if (m.t === 'listen' && handle) {
      shared.push({ handle: handle as ListenHandle, mode: m.mode, local: m.local });
      if (shared.length === m.count && !stopping && !retiring) {
        service.smtp.acceptOn(shared).then(
          () => send({ t: 'accepting' }),
          (err: unknown) => {
            // the server names the cause (an address in use: as its own bind would have)
            const error = err instanceof Error ? err.message : String(err);
            logger.error({ err: error }, 'accepting on the listening sockets');
            send({ t: 'failed', error, os: osCause(err) });
            void stop(70);
          },
        );
      }
    } else if (m.t === 'auth-failed') authThrottle.recordFailure(m.address, m.account);
    else if (m.t === 'stop') void stop();
    else if (m.t === 'retire') void retire();
  };
  stopKeeping();
  process.on('message', onOrder);
  for (const { m, handle } of early.splice(0)) onOrder(m, handle);
  process.on('disconnect', () => void stop());
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
  send({ t: 'ready' });
}
