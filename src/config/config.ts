/**
 * @module config
 * The typed, validated configuration every service reads (DESIGN.md §4). Keys in correio.toml
 * are snake_case; here they are camelCase, durations are milliseconds, sizes are octets,
 * paths are absolute and listen addresses are parsed.
 * Standards: TOML 1.0 (the file format).
 * Security: produced only by loadConfig/parseConfig, which refuse unknown and ill-typed keys.
 * Limitations: none.
 */
import type { Route } from '../core/index.js';
import type { ListenAddress } from './listen-address.js';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface SmtpConfig {
  /** MX service (port 25 in production) */
  readonly listen: readonly ListenAddress[];
  /** submission with STARTTLS and AUTH required (587) */
  readonly submission: readonly ListenAddress[];
  /** submission over implicit TLS (465, RFC 8314) */
  readonly submissions: readonly ListenAddress[];
  /** octets */
  readonly maxMessageSize: number;
  readonly maxRecipients: number;
  readonly maxConnections: number;
  readonly maxConnectionsPerIp: number;
  /** CIDR blocks, e.g. "127.0.0.0/8", "::1/128"; clients there may relay without AUTH */
  readonly trustedNetworks: readonly string[];
  /** offer AUTH on the MX listeners too; the sender rules then bind those sessions as well */
  readonly authOnMx: boolean;
  /** absolute path of the PEM certificate chain, when TLS is configured */
  readonly tlsCert?: string;
  /** absolute path of the PEM private key, when TLS is configured */
  readonly tlsKey?: string;
  /** ms for a whole command line (RFC 5321 §4.5.3.2.7: at least 5 minutes), not renewed per octet */
  readonly commandTimeout: number;
  /** ms for a whole DATA body or BDAT chunk (RFC 5321 §4.5.3.2.6: at least 3 minutes), plus minDataRate's allowance */
  readonly dataTimeout: number;
  /** octets per second: a body may take dataTimeout + size / minDataRate seconds */
  readonly minDataRate: number;
  /** permission bits of the "unix:" listeners' socket files (default 0o660) */
  readonly socketMode: number;
  /** processes running SMTP sessions: 1 = the server itself; more = the server and that many less one acceptor processes (app/acceptor-pool.ts); default 2 (1 on one core) */
  readonly processes: number;
  /** whether the file set `processes` (a default the storage cannot have is dropped without a warning) */
  readonly processesSet?: boolean;
}

/** The webhook transport (routes "webhook:https://…"). */
export interface WebhookConfig {
  /** ms for one POST, to the response's status */
  readonly timeout: number;
  /** HMAC-SHA256 secrets by URL, exactly as the routes name them */
  readonly secrets: Readonly<Record<string, string>>;
}

/** LMTP (RFC 2033) listeners: TCP addresses or UNIX sockets ("unix:/path"). */
export interface LmtpConfig {
  readonly listen: readonly ListenAddress[];
  /** permission bits of the "unix:" sockets (default 0o660) */
  readonly socketMode: number;
}

export interface DeliveryConfig {
  /** ms; then a non-delivery report */
  readonly maxQueueLifetime: number;
  /** ms; then a delay warning */
  readonly delayWarning: number;
  /** ms */
  readonly retryMin: number;
  /** ms */
  readonly retryMax: number;
  /** Received headers before "mail loop detected" (5.4.6) */
  readonly maxHops: number;
  /** empty: the system's resolvers */
  readonly dnsServers: readonly ListenAddress[];
  /** port dialled on MX hosts */
  readonly mxPort: number;
  /** deliveries in progress at once */
  readonly concurrency: number;
  /** deliveries in progress at once to one route (transport + next hop) */
  readonly concurrencyPerRoute: number;
  /** ms; when set, caps every outbound SMTP client timeout (connect, greeting, commands, DATA) */
  readonly smtpTimeout?: number;
  /** honour recipient domains' MTA-STS policies (RFC 8461) */
  readonly mtaSts: boolean;
  /** the HTTPS port policy hosts are asked on (443; tests use another) */
  readonly mtaStsPort: number;
  /** absolute path of a PEM file of CAs trusted besides the system's, for MTA-STS policy hosts and MX certificates */
  readonly mtaStsCa?: string;
  /** DANE (RFC 7672) for MX hosts: dns_servers (or the system's) is a trusted validating resolver */
  readonly dane: boolean;
  /** static next hops that override MX, by lower-case domain: "example.net" → {smtp, "[127.0.0.1]:2526"} */
  readonly routes: Readonly<Record<string, Route>>;
  /** where "/file" targets may come from: the aliases, :include: files (issue 12 item 4) */
  readonly allowMailToFiles: readonly ('alias' | 'include')[];
  /** where "|command" targets may come from */
  readonly allowMailToCommands: readonly ('alias' | 'include')[];
}

/** The one authentication-failure throttle shared by SMTP AUTH, POP3 (and IMAP, web) */
export interface AuthConfig {
  /** failed logins per client address (IPv6: per /64) in a window, then refused */
  readonly maxFailuresPerAddress: number;
  /** failed logins per account in a window, then refused (from every address) */
  readonly maxFailuresPerAccount: number;
  /** ms; counts start again this long after an address's or account's first failure */
  readonly failureWindow: number;
  /** ms; pause before each "authentication failed" answer */
  readonly failureDelay: number;
}

/** `[mail_auth]`: inbound SPF/DKIM/DMARC and outbound DKIM signing (docs/trust.md) */
export interface MailAuthConfig {
  /** check SPF, DKIM and DMARC on the MX listeners for clients that may not relay */
  readonly verifyInbound: boolean;
  /** a DMARC failure under p=reject: 550 5.7.1, a quarantine mark, or recorded only */
  readonly dmarcReject: 'reject' | 'quarantine' | 'none';
  /** a temporary DNS error in the checks: accept with temperror recorded, or 451 4.7.0 */
  readonly temperror: 'accept' | 'defer';
  /** quarantined mail (DMARC p=quarantine): delivered to the Junk folder, or only marked */
  readonly quarantine: 'junk' | 'mark';
  /** RSA DKIM keys shorter than this fail verification (policy) */
  readonly dkimMinKeyBits: number;
  /** sign local and authenticated mail for the From domain when a key exists (data_dir/dkim) */
  readonly dkimSign: boolean;
  /** ARC-seal and DKIM-sign list copies for the list's domain when it has a key */
  readonly sealLists: boolean;
  /** ARC-seal (and DKIM-sign) mail an alias forwards to a remote target, with the alias domain's key */
  readonly sealForwards: boolean;
  /** ARC sealers (d= of the latest ARC-Seal) whose passing chain overrides a DMARC failure */
  readonly trustedArcSealers: readonly string[];
  /** rewrite the reverse-path of forwarded mail with SRS, and reverse bounces to it */
  readonly srs: boolean;
  /** the domain of SRS addresses (one of localDomains; default the first) */
  readonly srsDomain: string;
  /** the SRS key; absent: generated once and kept in data_dir/srs-secret (on PostgreSQL storage: in the database) */
  readonly srsSecret?: string;
  /** earlier keys, still accepted when reversing (rotation) */
  readonly srsOldSecrets: readonly string[];
  /** ms an SRS address stays valid for bounces */
  readonly srsMaxAge: number;
}

/** `[abuse]`: defence of the MX port (docs/trust.md) */
export interface ReportsConfig {
  /** send yesterday's TLS reports (RFC 8460) every day at `sendAt` */
  readonly sendTls: boolean;
  /** send yesterday's DMARC aggregate reports (RFC 7489 §7.2) every day at `sendAt` */
  readonly sendDmarc: boolean;
  /** minutes after midnight, UTC */
  readonly sendAt: number;
  /** local addresses whose delivered mail is read for DMARC and TLS reports (lower case) */
  readonly receive: readonly string[];
  /** send DMARC failure reports (RFC 7489 §7.3) to the `ruf` of domains that ask */
  readonly dmarcFailure: boolean;
  /** at most this many failure reports per policy domain and hour */
  readonly dmarcFailurePerHour: number;
}

export interface AbuseConfig {
  /** DNS blocklist zones, checked at connect */
  readonly dnsbl: readonly string[];
  /** a listed client: 554 5.7.1 (reject) or 421 4.7.1 (defer) */
  readonly dnsblAction: 'reject' | 'defer';
  /** where a listed client is refused: at connect, or at RCPT (then `dnsblAllowRecipients` still get mail) */
  readonly dnsblStage: 'connect' | 'rcpt';
  /** local parts (lower case) a listed client may still write to when dnsblStage is rcpt */
  readonly dnsblAllowRecipients: readonly string[];
  /** DNS allowlist zones: a listed client skips the blocklists, rate limits and greylisting */
  readonly dnswl: readonly string[];
  /** per client address and minute; 0 = no limit */
  readonly rateConnections: number;
  readonly rateMessages: number;
  readonly rateRecipients: number;
  /** MAIL commands a minute per authenticated user, every port; 0 = no limit */
  readonly rateMessagesPerUser: number;
  readonly greylist: boolean;
  /** ms before a retried triplet passes */
  readonly greylistDelay: number;
  /** ms a passed triplet is remembered after its last use */
  readonly greylistLifetime: number;
}

export interface Config {
  /** absolute path of the file read; undefined for the embedded defaults */
  readonly file?: string;
  readonly hostname: string;
  /** absolute */
  readonly dataDir: string;
  /** lower case, at least one; the first is the primary domain (postmaster@first) */
  readonly localDomains: readonly string[];
  /** absolute path, when configured */
  readonly aliasesFile?: string;
  /** `run_as`: the user (name or numeric uid) serve drops to when started as root; absent: data_dir's owner */
  readonly runAs?: string;
  /** `trusted_users`: who may choose the envelope sender with `sendmail -f` through the maildrop */
  readonly trustedUsers: readonly string[];
  readonly smtp: SmtpConfig;
  readonly lmtp: LmtpConfig;
  readonly webhook: WebhookConfig;
  readonly delivery: DeliveryConfig;
  readonly pop3: {
    /** POP3 with STLS (110) */
    readonly listen: readonly ListenAddress[];
    /** POP3 over implicit TLS (995, RFC 8314) */
    readonly listenTls: readonly ListenAddress[];
    readonly maxConnections: number;
    readonly maxConnectionsPerIp: number;
  };
  readonly auth: AuthConfig;
  readonly imap: {
    /** IMAP with STARTTLS (143); `isDefault`: the key was absent and 127.0.0.1:2143 applies (served when free) */
    readonly listen: readonly ListenAddress[];
    readonly isDefault: boolean;
    /** IMAP over implicit TLS (993, RFC 8314) */
    readonly listenTls: readonly ListenAddress[];
    readonly maxConnections: number;
    readonly maxConnectionsPerIp: number;
    /** where passwords are accepted without TLS: "loopback" clients only (default), "never", "always" */
    readonly plaintextAuth: 'never' | 'loopback' | 'always';
    /** APPENDLIMIT (RFC 7889); default smtp.max_message_size */
    readonly appendLimit: number;
  };
  /** the web (JMAP, admin API, webmail; docs/web.md) */
  readonly http: {
    /** plain HTTP; `isDefault`: the key was absent and 127.0.0.1:8025 applies (served when free); empty: off */
    readonly listen: readonly ListenAddress[];
    readonly isDefault: boolean;
    /** HTTPS (TLS from the first octet) with the SMTP certificate */
    readonly listenTls: readonly ListenAddress[];
    /** where HTTP Basic passwords are accepted without TLS: "loopback" clients only (default), "never", "always" */
    readonly plaintextAuth: 'never' | 'loopback' | 'always';
    /** accounts given the admin scope (admin API and console) */
    readonly admins: readonly string[];
    /** the largest request body taken, in octets; default smtp.max_message_size */
    readonly maxBodySize: number;
    /** how long a browser session lasts after its login, in ms */
    readonly sessionLifetime: number;
    /** HTTP submission (POST /api/v1/messages): requests a minute per API token */
    readonly submissionRate: number;
  };
  /** the default quota of a mailbox whose user has none of their own: octets and messages; 0 = no limit */
  readonly quota: { readonly storage: number; readonly messages: number };
  /**
   * Prometheus /metrics, /healthz, /readyz; empty: off. `isDefault`: the key was absent and the
   * embedded 127.0.0.1:9465 applies (then an address in use only warns: a second instance on the
   * machine runs without metrics rather than not at all).
   */
  readonly metrics: { readonly listen: readonly ListenAddress[]; readonly isDefault: boolean };
  readonly mailAuth: MailAuthConfig;
  readonly abuse: AbuseConfig;
  /** `[policy]`: the rspamd content scan on the MX port (docs/trust.md) */
  readonly policy: { readonly rspamdUrl?: string; readonly rspamdFailure: 'accept' | 'defer'; readonly rspamdTimeout: number };
  /** `[reports]`: the daily reports `serve` sends itself (docs/trust.md) */
  readonly reports: ReportsConfig;
  /**
   * url: "file:" (embedded default) or "postgres://…"; leaseMs and pollIntervalMs: how the
   * nodes sharing a PostgreSQL queue take envelopes over from each other (docs/scale.md)
   */
  readonly storage: {
    readonly url: string;
    readonly leaseMs: number;
    readonly pollIntervalMs: number;
    /** absolute; absent = data_dir/mail */
    readonly mailDir?: string;
    /** PostgreSQL: where the LISTEN session connects (past a transaction-pooling PgBouncer); absent = url */
    readonly listenUrl?: string;
    /** PostgreSQL: the queue's commit as a named prepared statement (default true; false for a PgBouncer that cannot carry them) */
    readonly preparedStatements: boolean;
  };
  /** format: "json" lines, readable "text" lines, or "auto" (text on a terminal, JSON otherwise) */
  /** history: ms the delivery history keeps each day's events (correio trace after delivery) */
  readonly log: { readonly level: LogLevel; readonly format: 'auto' | 'json' | 'text'; readonly history: number };
}
