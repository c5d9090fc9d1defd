/**
 * @module acceptor-process
 * One acceptor process of `[smtp] processes` (acceptor-pool.ts): it runs the SMTP sessions of
 * the connections the server hands it, with the same checks and intake as the server's own
 * (smtp-service.ts), and commits messages to spool segments of its own (FsQueueStore
 * `acceptor`). After each commit it sends the server the new envelopes; the server delivers.
 * It stops (finishing its sessions) when told, on SIGTERM/SIGINT, or when the server is gone
 * (its IPC channel closes): what it stored after that is found by the next server's recovery.
 * Standards: RFC 5321 §6.1 (250 only after the message is durable in the spool).
 * Security: runs as the server's user; takes no spool lock and recovers nothing (the server does).
 * Limitations: no listeners, metrics, IMAP or web of its own; its mail-log lines go to the
 *   same stdout as the server's.
 */
import { pino } from 'pino';
import { loadConfig } from '../config/index.js';
import { BatchedOutput, formatTextLine, startMailLog, textWanted } from '../log/index.js';
import { AuthThrottle } from '../policy/auth-throttle.js';
import type net from 'node:net';
import type { MessageId } from '../core/index.js';
import type { FsQueueStore, SegRef } from '../queue/index.js';
import { openBackends } from './backends.js';
import type { AcceptorNotice, AcceptorOrder } from './acceptor-pool.js';
import { buildSmtpService } from './smtp-service.js';
import { loadOrMakeTls } from './tls-files.js';

/** Runs an acceptor for the configuration in `configFile` until it is told to stop. */
export async function runAcceptor(configFile: string): Promise<void> {
  const config = loadConfig({ path: configFile });
  const text = textWanted(config.log.format, false);
  const output = new BatchedOutput(1, text ? { transform: formatTextLine } : {});
  process.on('exit', () => output.flushSync());
  const logger = pino({ level: config.log.level, base: { hostname: config.hostname, role: 'acceptor' } }, output);
  const mailLog = startMailLog(logger);
  const backends = await openBackends(config, { watchAliases: true, spool: { acceptor: true } });
  const send = (m: AcceptorNotice): void => {
    // the server gone: the messages are in the spool; its successor's recovery finds them
    if (process.connected) process.send?.(m, undefined, {}, () => undefined);
  };
  const store = backends.store as FsQueueStore;
  backends.setOnQueued((envs) => {
    // where each record went, so the server takes it in without reading the segment
    const places: Record<MessageId, SegRef> = {};
    for (const id of new Set(envs.map((e) => e.messageId))) {
      const ref = store.placeOf(id);
      if (ref) places[id] = ref;
    }
    send({ t: 'queued', envelopes: [...envs], places });
  });
  const t = await loadOrMakeTls(config);
  const tls = 'error' in t ? undefined : { key: t.key, cert: t.cert };
  const authThrottle = new AuthThrottle({
    maxFailuresPerAddress: config.auth.maxFailuresPerAddress,
    maxFailuresPerAccount: config.auth.maxFailuresPerAccount,
    windowMs: config.auth.failureWindow,
  });
  const service = buildSmtpService(config, backends, { tls, authThrottle });

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      await service.smtp.close();
      service.close();
      await backends.close();
      mailLog.stop();
      await output.stop();
      process.exit(0);
    })());
  process.on('message', (m: AcceptorOrder, handle: unknown) => {
    if (m.t === 'conn' && handle) service.smtp.adopt(handle as net.Socket, m.mode, m.local);
    else if (m.t === 'stop') void stop();
  });
  process.on('disconnect', () => void stop());
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
  send({ t: 'ready' });
}
