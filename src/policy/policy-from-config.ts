/**
 * @module policy-from-config
 * The SMTP policy a configuration describes: the one place where config keys become check
 * lists (buildSmtpPolicy does the lists; this maps the keys and the directory lookups).
 * Standards: see smtp-policy.ts.
 * Security: sender rules and relay control always come from the directory here; AUTH on the
 *   MX port only with `smtp.auth_on_mx = true`.
 * Limitations: none.
 */
import type { DirectoryLookup, ListenMode } from '../core/index.js';
import type { Config } from '../config/index.js';
import { DirectorySenderOwnership } from './sender-rules.js';
import { buildSmtpPolicy, type LookupAnswers, type StagePolicy } from './smtp-policy.js';

export interface PolicyLookups {
  readonly directory: Pick<DirectoryLookup, 'isLocalDomain' | 'findAlias' | 'findList' | 'findRole'>;
  /** VRFY/EXPN answers for the clients allowed to ask */
  readonly answers?: LookupAnswers;
}

export function smtpPolicyFromConfig(config: Config, lookups: PolicyLookups): Readonly<Record<ListenMode, StagePolicy>> {
  const s = config.smtp;
  const { directory } = lookups;
  return buildSmtpPolicy({
    hostname: config.hostname,
    maxMessageSize: s.maxMessageSize,
    maxRecipients: s.maxRecipients,
    maxConnections: s.maxConnections,
    maxConnectionsPerIp: s.maxConnectionsPerIp,
    authOnMx: s.authOnMx,
    trustedNetworks: s.trustedNetworks,
    senderOwnership: new DirectorySenderOwnership(directory),
    isLocalDomain: (domain) => directory.isLocalDomain(domain),
    ...(lookups.answers ? { answers: lookups.answers } : {}),
  });
}
