/**
 * @module events
 * Names of the diagnostics_channel channels the mail system publishes on; src/log subscribes.
 * Core code publishes events and never imports the logger.
 * Standards: none. Security: events carry addresses, never passwords or bodies.
 * Limitations: none.
 */
export const channels = {
  /** { messageId, sender, recipients, size, client } */
  received: 'correio:received',
  /** { envelopeId, messageId, recipient, route } */
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
  /** { protocol: 'smtp'|'pop3' }: a login refused for a wrong user name or password (metrics) */
  authFailure: 'correio:auth-failure',
  /** { type: 'MX'|'A'|'AAAA'|'TXT'|other rrtype, outcome: 'found'|'not-found'|'null-mx'|'temporary', seconds }: one DNS query asked of a server (cache hits are not) */
  dnsLookup: 'correio:dns-lookup',
} as const;
