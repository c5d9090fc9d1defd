/**
 * @module metrics
 * Prometheus metrics an operator graphs, fed by the diagnostics_channel events core code
 * publishes (core never imports this). Names follow postfix_exporter where the two overlap, so
 * existing dashboards carry over: connections per listener, messages received and rejected (by
 * reply code), deliveries by transport and result, the delivery delay, the queue by state, DSNs
 * generated, SASL authentication failures by protocol, and the process metrics of prom-client.
 * Standards: Prometheus text exposition format (prom-client); postfix_exporter's metric names.
 * Security: labels are bounded sets (listener modes, reply codes, transports, results, states),
 *   never addresses or hosts, so a client cannot grow the series without bound.
 * The queue gauges come from the delivery runner's memory (issue 19: a scrape that walked a
 * million envelopes took over 100 s of CPU): counts kept exact by every change, the oldest
 * ages from one pass over memory, and `correio_queue_loaded` 0 while the start still loads
 * the queue (the counts are then those seen so far).
 * Limitations: per process (each node of a cluster exposes its own, of the envelopes it knows).
 */
import diagnostics from 'node:diagnostics_channel';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { channels } from '../core/index.js';

/** What the running services report when scraped. */
export interface MetricsSources {
  /** open sessions per service ("smtp", "pop3") and listener (mx, submission, submissions, pop3) */
  sessions?: () => readonly { service: string; listener: string; count: number }[];
  /** the queue by state, from the delivery runner's memory */
  queue?: QueueGaugeSource;
  /** ms since epoch; default Date.now */
  now?: () => number;
  /** the SMTP acceptor processes (`[smtp] processes`): how many live, their resident memory summed, how many ended unexpectedly */
  acceptors?: () => { live: number; residentBytes: number; ended: number };
}

/** What the queue gauges read (queue-runner.ts through app/monitoring.ts): nothing here reads the store. */
export interface QueueGaugeSource {
  /** envelopes per state (queued, deferred, held, notice-pending), exact */
  counts(): readonly { state: string; count: number }[];
  /** the age in seconds of each state's oldest envelope (0 when it has none) */
  ages(): readonly { state: string; seconds: number }[];
  /** false while the queue is still being loaded at the start: the counts are those seen so far */
  loaded(): boolean;
}

export interface Metrics {
  readonly registry: Registry;
  stop(): void;
}

type Payload = Record<string, unknown>;

const asPayload = (m: unknown): Payload => (typeof m === 'object' && m !== null ? (m as Payload) : {});
const text = (v: unknown, fallback: string): string => (typeof v === 'string' && v !== '' ? v : fallback);

/** The first three digits of a formatted reply ("550 5.1.1 …") or of a reply object. */
function replyCode(reply: unknown): string {
  if (typeof reply === 'string') return /^\d{3}/.exec(reply)?.[0] ?? 'other';
  const code = asPayload(reply).code;
  return typeof code === 'number' ? String(code) : 'other';
}

/** A bounded label from an open-ended value: known words pass, others are "other". */
function bounded(v: string, known: ReadonlySet<string>): string {
  return known.has(v) ? v : 'other';
}

const listeners = new Set(['mx', 'submission', 'submissions', 'lmtp', 'smtp']);
const protocols = new Set(['SMTP', 'ESMTP', 'ESMTPS', 'ESMTPA', 'ESMTPSA', 'LMTP', 'HTTPA', 'local', 'internal']);
const dnsTypes = new Set(['MX', 'A', 'AAAA', 'TXT', 'TLSA', 'PTR', 'CNAME', 'NS', 'SOA']);
const dnsOutcomes = new Set(['found', 'not-found', 'null-mx', 'temporary']);
const stages = new Set(['connect', 'helo', 'mail', 'rcpt', 'data', 'auth', 'bdat']);

export function startMetrics(sources: MetricsSources = {}): Metrics {
  const registers = [new Registry()];
  const registry = registers[0];
  const now = sources.now ?? Date.now;
  collectDefaultMetrics({ register: registry });

  new Gauge({ name: 'correio_up', help: 'Whether correio is running (always 1 while it answers)', registers, collect() {
    this.set(1);
  } });
  const smtpConnects = new Counter({
    name: 'correio_smtpd_connects_total',
    help: 'SMTP connections accepted, by listener (mx, submission, submissions, lmtp)',
    labelNames: ['listener'],
    registers,
  });
  const pop3Connects = new Counter({
    name: 'correio_pop3d_connects_total',
    help: 'POP3 connections accepted, by listener (pop3, pop3s)',
    labelNames: ['listener'],
    registers,
  });
  new Gauge({
    name: 'correio_sessions',
    help: 'Sessions open now, by service and listener',
    labelNames: ['service', 'listener'],
    registers,
    collect() {
      this.reset();
      for (const s of sources.sessions?.() ?? []) this.set({ service: s.service, listener: s.listener }, s.count);
    },
  });
  if (sources.acceptors) {
    const acceptors = sources.acceptors;
    new Gauge({ name: 'correio_smtp_acceptor_processes', help: 'SMTP acceptor processes running ([smtp] processes less one; 0: SMTP runs in the server)', registers, collect() {
      this.set(acceptors().live);
    } });
    new Gauge({ name: 'correio_smtp_acceptor_resident_memory_bytes', help: 'Resident memory of the SMTP acceptor processes, summed (process_resident_memory_bytes is the server\'s alone)', registers, collect() {
      this.set(acceptors().residentBytes);
    } });
    new Gauge({ name: 'correio_smtp_acceptor_exits', help: 'SMTP acceptor processes that ended unexpectedly (killed, crashed) and were replaced since the start', registers, collect() {
      this.set(acceptors().ended);
    } });
  }
  const received = new Counter({
    name: 'correio_messages_received_total',
    help: 'Messages accepted into the spool, by protocol (ESMTP…, local for sendmail, internal for DSNs and lists)',
    labelNames: ['protocol'],
    registers,
  });
  const rejected = new Counter({
    name: 'correio_smtpd_messages_rejected_total',
    help: 'SMTP commands refused, by reply code and stage',
    labelNames: ['code', 'stage'],
    registers,
  });
  const deliveries = new Counter({
    name: 'correio_deliveries_total',
    help: 'Delivery attempts per recipient, by transport and result (delivered, deferred, bounced, expired)',
    labelNames: ['transport', 'result'],
    registers,
  });
  const delay = new Histogram({
    name: 'correio_delivery_delay_seconds',
    help: 'Time from acceptance to final delivery, by transport',
    labelNames: ['transport'],
    buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 86400, 3 * 86400],
    registers,
  });
  const dsns = new Counter({ name: 'correio_dsn_generated_total', help: 'Delivery status notifications (bounces, delay and success notices) sent', registers });
  const authFailures = new Counter({
    name: 'correio_sasl_authentication_failures_total',
    help: 'Failed logins (wrong user name or password), by protocol',
    labelNames: ['protocol'],
    registers,
  });
  const dnsLookups = new Histogram({
    name: 'correio_dns_lookup_seconds',
    help: 'DNS queries asked of a server (cache hits are not), by record type and outcome (found, not-found, null-mx, temporary)',
    labelNames: ['type', 'outcome'],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  });
  if (sources.queue) {
    const queue = sources.queue;
    new Gauge({ name: 'correio_queue_size', help: 'Envelopes in the queue, by state (queued, deferred, held, notice-pending)', labelNames: ['state'], registers, collect() {
      this.reset();
      for (const q of queue.counts()) this.set({ state: q.state }, q.count);
    } });
    new Gauge({ name: 'correio_queue_oldest_age_seconds', help: 'Age of the oldest envelope in each queue state', labelNames: ['state'], registers, collect() {
      this.reset();
      for (const q of queue.ages()) this.set({ state: q.state }, q.seconds);
    } });
    new Gauge({ name: 'correio_queue_loaded', help: 'Whether the queue gauges count every envelope of the spool (0 while the start still loads the queue: the counts seen so far)', registers, collect() {
      this.set(queue.loaded() ? 1 : 0);
    } });
  }

  const transportOf = (p: Payload): string => text(p.route, 'unknown').split(':')[0];
  const result = (name: string) => (m: unknown): void => {
    const p = asPayload(m);
    const transport = transportOf(p);
    deliveries.inc({ transport, result: name });
    if (name === 'delivered' && typeof p.arrivedAt === 'number') delay.observe({ transport }, Math.max(0, (now() - p.arrivedAt) / 1000));
  };
  const handlers: [string, (m: unknown) => void][] = [
    [
      channels.connection,
      (m) => {
        const p = asPayload(m);
        if (p.session === 'pop3') pop3Connects.inc({ listener: p.secure === true ? 'pop3s' : 'pop3' });
        else smtpConnects.inc({ listener: bounded(text(p.mode, 'smtp'), listeners) });
      },
    ],
    [
      channels.received,
      (m) => {
        const p = asPayload(m);
        const protocol = bounded(text(p.protocol, 'other'), protocols);
        received.inc({ protocol });
        // a notice re-enters through intake from the internal session with the null sender
        if (protocol === 'internal' && p.sender === '') dsns.inc();
      },
    ],
    [
      channels.rejected,
      (m) => {
        const p = asPayload(m);
        rejected.inc({ code: replyCode(p.reply), stage: bounded(text(p.stage, 'other'), stages) });
      },
    ],
    [channels.delivered, result('delivered')],
    [channels.deferred, result('deferred')],
    [channels.bounced, result('bounced')],
    [channels.expired, result('expired')],
    [
      channels.dnsLookup,
      (m) => {
        const p = asPayload(m);
        if (typeof p.seconds !== 'number') return;
        dnsLookups.observe({ type: bounded(text(p.type, 'other'), dnsTypes), outcome: bounded(text(p.outcome, 'other'), dnsOutcomes) }, p.seconds);
      },
    ],
    [channels.authFailure, (m) => authFailures.inc({ protocol: text(asPayload(m).protocol, 'other') === 'pop3' ? 'pop3' : 'smtp' })],
  ];
  for (const [name, fn] of handlers) diagnostics.subscribe(name, fn);
  return {
    registry,
    stop: () => {
      for (const [name, fn] of handlers) diagnostics.unsubscribe(name, fn);
    },
  };
}
