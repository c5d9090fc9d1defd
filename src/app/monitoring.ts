/**
 * @module monitoring
 * Wires the metrics (log/metrics.ts, fed by diagnostics_channel) to the running services and
 * serves them over HTTP (web/metrics-server.ts) on `[metrics] listen`: open sessions from the
 * SMTP and POP3 servers, the queue by state from the spool, readiness from the app's life
 * (ready once every listener is bound, not ready again from the first moment of a stop).
 * Standards: Prometheus exposition format; postfix_exporter's names (see log/metrics.ts).
 * Security: the embedded default listens on 127.0.0.1 only.
 * Limitations: the queue gauges walk the spool at each scrape (as postfix_exporter's showq
 *   does); a queue of millions makes scrapes slow.
 */
import { channel } from 'node:diagnostics_channel';
import type { Logger } from 'pino';
import { channels, type QueueStore } from '../core/index.js';
import { formatListenAddress, type Config } from '../config/index.js';
import { startMetrics } from '../log/index.js';
import { withState } from '../queue/index.js';
import { MetricsServer } from '../web/index.js';

export interface Monitoring {
  /** the bound /metrics addresses (empty when off) */
  addresses(): { host: string; port: number }[];
  setReady(ready: boolean): void;
  close(): Promise<void>;
}

export interface MonitoringSources {
  readonly smtpSessions: () => readonly { mode: string; count: number }[];
  readonly pop3Sessions: () => number;
  readonly imapSessions?: () => number;
  /** the SMTP acceptor processes (acceptor-pool.ts), when SMTP runs in them */
  readonly acceptors?: () => { live: number; residentBytes: number; ended: number };
  readonly store: Pick<QueueStore, 'walkEnvelopes' | 'scanEnvelopes'>;
  readonly logger: Logger;
}

/** `authenticate` for one protocol, publishing each refused login for the metrics. */
export function countingAuthenticate(
  protocol: 'smtp' | 'pop3' | 'imap',
  authenticate: (user: string, password: string) => Promise<boolean>,
): (user: string, password: string) => Promise<boolean> {
  const ch = channel(channels.authFailure);
  return async (user, password) => {
    const ok = await authenticate(user, password);
    if (!ok && ch.hasSubscribers) ch.publish({ protocol });
    return ok;
  };
}

export async function startMonitoring(config: Config, sources: MonitoringSources): Promise<Monitoring> {
  let ready = false;
  const metrics = startMetrics({
    ...(sources.acceptors && { acceptors: sources.acceptors }),
    sessions: () => [
      ...sources.smtpSessions().map((m) => ({ service: 'smtp', listener: m.mode, count: m.count })),
      { service: 'pop3', listener: 'pop3', count: sources.pop3Sessions() },
      ...(sources.imapSessions ? [{ service: 'imap', listener: 'imap', count: sources.imapSessions() }] : []),
    ],
    queue: async () => {
      const now = Date.now();
      const by = new Map<string, { count: number; oldest: number }>();
      for (const state of ['queued', 'deferred', 'held', 'notice-pending']) by.set(state, { count: 0, oldest: now });
      // in no order: a big queue is not listed whole (issue 19)
      for await (const env of sources.store.scanEnvelopes?.() ?? sources.store.walkEnvelopes()) {
        const s = by.get(withState(env).state) ?? { count: 0, oldest: now };
        s.count++;
        s.oldest = Math.min(s.oldest, env.arrivedAt);
        by.set(withState(env).state, s);
      }
      return [...by].map(([state, s]) => ({ state, count: s.count, oldestSeconds: Math.max(0, (now - s.oldest) / 1000) }));
    },
  });
  const server = new MetricsServer({ registry: metrics.registry, ready: () => ready });
  try {
    await server.listen(config.metrics.listen);
  } catch (err) {
    // the embedded default is best effort: a second correio on this machine runs without it
    if (!config.metrics.isDefault) {
      metrics.stop();
      throw err;
    }
    const where = config.metrics.listen.map(formatListenAddress).join(', ');
    sources.logger.warn({ listen: where, err: (err as Error).message }, `metrics not served: ${where} is not available; set [metrics] listen to another address, or [] for none`);
  }
  return {
    addresses: () => server.addresses(),
    setReady: (r) => {
      ready = r;
    },
    close: async () => {
      ready = false;
      await server.close();
      metrics.stop();
    },
  };
}
