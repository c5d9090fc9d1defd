/**
 * @module acceptor-limits
 * Each acceptor process's share of the SMTP limits that count clients (`[smtp] processes`,
 * issue 19): the kernel spreads connections over the acceptors, each counting only its own,
 * so each enforces the configured limit divided by the number of acceptors, rounded up:
 * `[smtp] max_connections` and `max_connections_per_ip`, and the `[abuse]` per-minute rates
 * (connections, messages, recipients, messages per user; 0 stays off).
 * Standards: none (Postfix's anvil(8) counts in one process instead).
 * Security: the sum of the shares is at most the configured limit plus one per acceptor, so a
 *   client cannot hold more than that by spreading over the acceptors.
 * Limitations: a client whose connections all land on one acceptor is refused at that
 *   acceptor's share (with processes = 2, one acceptor: the whole limit, exact). The AUTH
 *   throttle is not divided: its failures are shared (acceptor-pool.ts).
 */
import type { Config } from '../config/index.js';

/** `n` divided over `acceptors`, rounded up; 0 (off) stays 0. */
export function shareOf(n: number, acceptors: number): number {
  return n === 0 ? 0 : Math.ceil(n / Math.max(1, acceptors));
}

/** `config` with the client-counting limits and rates set to one acceptor's share of them. */
export function acceptorShare(config: Config, acceptors: number): Config {
  if (acceptors <= 1) return config;
  const s = config.smtp;
  const a = config.abuse;
  return {
    ...config,
    smtp: { ...s, maxConnections: shareOf(s.maxConnections, acceptors), maxConnectionsPerIp: shareOf(s.maxConnectionsPerIp, acceptors) },
    abuse: {
      ...a,
      rateConnections: shareOf(a.rateConnections, acceptors),
      rateMessages: shareOf(a.rateMessages, acceptors),
      rateRecipients: shareOf(a.rateRecipients, acceptors),
      rateMessagesPerUser: shareOf(a.rateMessagesPerUser, acceptors),
    },
  };
}
