/**
 * @module monitoring
 * Wires the metrics (log/metrics.ts, fed by diagnostics_channel) to the running services and
 * serves them over HTTP (web/metrics-server.ts) on `[metrics] listen`: open sessions from the
 * SMTP and POP3 servers, the queue by state from the delivery runner's memory (never a walk of
 * the spool: issue 19), readiness from the app's life
 * (ready once every listener is bound, not ready again from the first moment of a stop).
 * Standards: Prometheus exposition format; postfix_exporter's names (see log/metrics.ts).
 * Security: the embedded default listens on 127.0.0.1 only.
 * Limitations: the queue gauges count what this process's runner knows (on a PostgreSQL
 *   queue shared by nodes, an envelope another node holds is not counted until a rescan finds
 *   it again); until its start's load has seen every envelope they are partial (correio_queue_loaded 0).
 */
import { channel } from 'node:diagnostics_channel';
import type { Logger } from 'pino';
import { channels, type EnvelopeState } from '../core/index.js';
import { formatListenAddress, type Config } from '../config/index.js';
import { startMetrics } from '../log/index.js';
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
  /** the delivery runner: the queue gauges read its memory (queue-runner.ts) */
  readonly runner: { stateCounts(): readonly { state: EnvelopeState; count: number }[]; oldestArrivals(): Record<EnvelopeState, number>; readonly seenWhole: boolean };
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
    queue: {
      counts: () => sources.runner.stateCounts(),
      ages: () => {
        const now = Date.now();
        return Object.entries(sources.runner.oldestArrivals()).map(([state, at]) => ({ state, seconds: at === Infinity ? 0 : Math.max(0, (now - at) / 1000) }));
      },
      loaded: () => sources.runner.seenWhole,
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
