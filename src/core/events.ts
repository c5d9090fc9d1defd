/**
 * @module events
 * Names of the diagnostics_channel channels the mail system publishes on; src/log subscribes.
 * Core code publishes events and never imports the logger. An event is a fresh object that its
 * publisher never changes afterwards: the subscribers keep it (the log tail) or write it later.
 * Standards: none. Security: events carry addresses, never passwords or bodies.
 * Limitations: none.
 */

/**
 * Set (true) on an event another process published and already logged (an SMTP acceptor's,
 * app/acceptor-events.ts), published again here for the metrics, the history and the log's
 * tail: the mail log counts it but writes no second line. A symbol: never serialised.
 */
export const relayedEvent: unique symbol = Symbol('correio.relayedEvent');

/**
 * Set, while a relayed event is published, to its fields' JSON text as the other process wrote
 * it (JSON.stringify of the same fields): a subscriber that only writes the event (the history)
 * takes it instead of serialising the object again. Undefined once published. A symbol too.
 */
export const relayedJson: unique symbol = Symbol('correio.relayedJson');

export const channels = {
  /** { messageId, sender, recipients, size, client, protocol, helo?, tls?, authUser?, messageIdHeader?, receivedField } */
  received: 'correio:received',
  /** { envelopeId, messageId, recipient, route, given?, via? } (given: as at RCPT; via: the aliases, roles, lists followed) */
  queued: 'correio:queued',
  /** { envelopeId, messageId, recipient, route, status, reply?, host? } */
  delivered: 'correio:delivered',
  deferred: 'correio:deferred',
  bounced: 'correio:bounced',
  expired: 'correio:expired',
  /** { stage: 'connect'|'mail'|'rcpt'|'data', reply, client } */
  rejected: 'correio:rejected',
  /** { session, remoteAddress } */
  connection: 'correio:connection',
  /** { error, where } */
  error: 'correio:error',
  /**
   * an operator's action: a queue command ({ action: 'flush'|'hold'|'release'|'delete'|'bounce', messageId?, id?, count })
   * or a directory change ({ action: 'user add'|'alias set'|…, the entry and what changed }), with `by` and `via` ('cli'|'api')
   */
  admin: 'correio:admin',
  /** { protocol: 'smtp'|'pop3' }: a login refused for a wrong user name or password (metrics) */
  authFailure: 'correio:auth-failure',
  /** { type: 'MX'|'A'|'AAAA'|'TXT'|other rrtype, outcome: 'found'|'not-found'|'null-mx'|'temporary', seconds }: one DNS query asked of a server (cache hits are not) */
  dnsLookup: 'correio:dns-lookup',
  /** TlsSessionResult: one outbound TLS session to an MX host, or its failure (TLS-RPT, RFC 8460) */
  tlsResult: 'correio:tls-result',
} as const;

/**
 * RFC 8460 §4.3-§4.4: what a TLS report counts. `result` is 'success' or a result type of
 * §4.3.2 (starttls-not-supported, certificate-host-mismatch, certificate-expired,
 * certificate-not-trusted, validation-failure, tlsa-invalid, dnssec-invalid, dane-required …).
 */
export interface TlsSessionResult {
  /** the recipient domain (the policy domain) */
  readonly domain: string;
  readonly policyType: 'sts' | 'tlsa' | 'no-policy-found';
  /** the policy as published: STS policy lines, or TLSA records "3 1 1 ab…" */
  readonly policyStrings: readonly string[];
  readonly mxHost: string;
  readonly receivingIp?: string;
  readonly result: string;
  /** the failure's reason, one line */
  readonly info?: string;
  /** ms since epoch */
  readonly at: number;
}
