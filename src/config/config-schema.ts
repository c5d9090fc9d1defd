/**
 * @module config-schema
 * The zod schema of correio.toml (DESIGN.md §4): every key, its type and its default, with the
 * one-line messages people see. Strict objects: an unknown key is an error, never ignored.
 * Standards: RFC 5321 §4.5.3 (limits: at least 100 recipients), RFC 4632 (CIDR notation).
 * Security: all values are checked before any service sees them.
 * Limitations: paths are resolved later (load-config), not checked for existence here.
 */
import { availableParallelism, hostname as osHostname } from 'node:os';
import { isIP } from 'node:net';
import { z } from 'zod';
import { parseListenAddress, parseSocketListenAddress, type ListenAddress } from './listen-address.js';
import { httpUrlProblem, parseDuration, parseSize } from '../util/index.js';

/** A parsed value, or a message; `path` points below the key (a table entry) when it helps. */
type Result<T> = { ok: true; value: T } | { ok: false; message: string; path?: string[] };
const ok = <T>(value: T): Result<T> => ({ ok: true, value });
const bad = <T>(message: string, path?: string[]): Result<T> =>
  path === undefined ? { ok: false, message } : { ok: false, message, path };

/** A key with a default: absent → default; present → parse or a custom issue. */
function field<T>(parse: (v: unknown) => Result<T>, def: () => T) {
  return z.unknown().optional().transform((v, ctx): T => {
    if (v === undefined) return def();
    const r = parse(v);
    if (r.ok) return r.value;
    ctx.addIssue({ code: 'custom', message: r.message, ...(r.path ? { path: r.path } : {}) });
    return z.NEVER;
  });
}

/** A [table]: absent → all its defaults. */
function table<S extends z.core.$ZodLooseShape>(shape: S) {
  return z.preprocess((v) => (v === undefined ? {} : v), z.strictObject(shape));
}

/** A key that no longer exists: present → an error saying why and what to do instead. */
function removed(why: string) {
  return z.unknown().optional().transform((v, ctx): undefined => {
    if (v !== undefined) ctx.addIssue({ code: 'custom', message: why });
    return undefined;
  });
}

/** An optional key: absent → undefined. */
function optional<T>(parse: (v: unknown) => Result<T>) {
  return z.unknown().optional().transform((v, ctx): T | undefined => {
    if (v === undefined) return undefined;
    const r = parse(v);
    if (r.ok) return r.value;
    ctx.addIssue({ code: 'custom', message: r.message, ...(r.path ? { path: r.path } : {}) });
    return z.NEVER;
  });
}

const domainRe = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

export function isDomainName(s: string): boolean {
  return domainRe.test(s);
}

const str = (v: unknown): Result<string> =>
  typeof v === 'string' && v.trim() !== '' ? ok(v) : bad('expected a non-empty string');

const positiveInt = (v: unknown): Result<number> =>
  typeof v === 'number' && Number.isSafeInteger(v) && v > 0 ? ok(v) : bad('expected a positive integer');

const nonNegativeInt = (v: unknown): Result<number> =>
  typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? ok(v) : bad('expected a whole number, 0 or more (0: no limit)');

const bool = (v: unknown): Result<boolean> => (typeof v === 'boolean' ? ok(v) : bad('expected true or false'));

const port = (v: unknown): Result<number> =>
  typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 65535
    ? ok(v)
    : bad('expected a port number from 1 to 65535');

/** util's parsers throw RangeError; here a bad value is a config problem, not an exception. */
function attempt<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch {
    return undefined;
  }
}

const duration = (v: unknown): Result<number> => {
  const ms = typeof v === 'string' ? attempt(() => parseDuration(v)) : undefined;
  return ms !== undefined && ms > 0 ? ok(ms) : bad('expected a duration such as "30s", "5m", "4h" or "3d"');
};

const size = (v: unknown): Result<number> => {
  const n = typeof v === 'string' || typeof v === 'number' ? attempt(() => parseSize(v)) : undefined;
  return n !== undefined && n > 0 ? ok(n) : bad('expected a size such as "512KB", "25MB" or "1GB"');
};

/** A size where 0 means "no limit" (quotas). */
const sizeOrZero = (v: unknown): Result<number> => {
  const n = typeof v === 'string' || typeof v === 'number' ? attempt(() => parseSize(v)) : undefined;
  return n !== undefined ? ok(n) : bad('expected a size such as "512MB" or "1GB", or 0 for no limit');
};

const hostName = (v: unknown): Result<string> => {
  if (typeof v !== 'string') return bad('expected a host name');
  const h = v.toLowerCase().replace(/\.$/, '');
  return isDomainName(h) ? ok(h) : bad(`"${v}" is not a host name`);
};

function listOf<T>(item: (s: string) => Result<T>, what: string, nonEmpty = false) {
  return (v: unknown): Result<T[]> => {
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) return bad(`expected a list of ${what}`);
    if (nonEmpty && v.length === 0) return bad(`expected at least one ${what.replace(/s$/, '')}`);
    const out: T[] = [];
    for (const s of v as string[]) {
      const r = item(s);
      if (!r.ok) return bad(r.message);
      out.push(r.value);
    }
    return ok(out);
  };
}

const listenItem = (s: string): Result<ListenAddress> => {
  const a = parseListenAddress(s);
  return a ? ok(a) : bad(`"${s}" is not a "host:port" address (e.g. "127.0.0.1:2525" or "[::1]:2525")`);
};
const listenList = listOf(listenItem, '"host:port" addresses');

const socketListenItem = (s: string): Result<ListenAddress> => {
  if (!s.startsWith('unix:')) return listenItem(s);
  const a = parseSocketListenAddress(s);
  return a ? ok(a) : bad(`"${s}" is not a UNIX socket path (e.g. "unix:/run/correio/smtp.sock"; at most 107 octets)`);
};
/** SMTP and LMTP listeners may also be UNIX-domain sockets ("unix:/path"). */
const socketListenList = listOf(socketListenItem, '"host:port" addresses or "unix:/path" sockets');

/** A UNIX socket's permission bits as an octal string: "0660", "0600", "0666". */
/**
 * `[smtp] processes` when the file does not set it (issue 19): 2, the server and one acceptor
 * process (docs/design-changes.md: measured faster than 1 in every scenario on 2-core machines),
 * but 1 where the OS offers this process a single core (a second process there only competes
 * for it, and costs its memory)
 */
export function defaultSmtpProcesses(cores = availableParallelism()): number {
  return Math.min(2, Math.max(1, cores));
}

/** `[smtp] processes`: 1 to 64, or "auto" (one per core the OS offers) */
const smtpProcesses = (v: unknown): Result<number> => {
  if (v === 'auto') return ok(Math.min(64, availableParallelism()));
  return Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 64 ? ok(v as number) : bad('expected a whole number from 1 to 64, or "auto"');
};
const socketMode = (v: unknown): Result<number> =>
  typeof v === 'string' && /^0?[0-7]{3}$/.test(v) ? ok(parseInt(v, 8)) : bad('expected permission bits in octal, e.g. "0660"');

const dnsItem = (s: string): Result<ListenAddress> => {
  // a bare IPv6 address is unambiguous here: the port defaults to 53
  const a = isIP(s) === 6 ? { host: s, port: 53 } : parseListenAddress(s, 53);
  return a && a.port !== 0 && isIP(a.host) !== 0
    ? ok(a)
    : bad(`"${s}" is not a DNS server address (e.g. "127.0.0.1" or "127.0.0.1:5353")`);
};

const domainItem = (s: string): Result<string> => {
  const d = s.toLowerCase().replace(/\.$/, '');
  return isDomainName(d) ? ok(d) : bad(`"${s}" is not a domain name`);
};

/** A mailbox address "local@domain": its domain lower-cased, as the directory keeps it. */
const addressItem = (s: string): Result<string> => {
  const at = s.lastIndexOf('@');
  const d = s.slice(at + 1).toLowerCase();
  if (at < 1 || /\s/.test(s) || !isDomainName(d)) return bad(`"${s}" is not an address (e.g. "alice@example.org")`);
  return ok(`${s.slice(0, at)}@${d}`);
};

const domainName = (v: unknown): Result<string> => (typeof v === 'string' ? domainItem(v) : bad('expected a domain name'));

/** an http(s) URL; http:// only to a loopback host (util/http-url.ts) */
const rspamdUrl = (v: unknown): Result<string> => {
  if (typeof v !== 'string') return bad('expected a URL such as "http://127.0.0.1:11333"');
  const problem = httpUrlProblem(v);
  return problem === undefined ? ok(v) : bad(problem);
};

/** "HH:MM" (UTC) → minutes after midnight */
const timeOfDay = (v: unknown): Result<number> => {
  const m = typeof v === 'string' ? /^([01]\d|2[0-3]):([0-5]\d)$/.exec(v) : null;
  return m ? ok(Number(m[1]) * 60 + Number(m[2])) : bad('expected a time of day as "HH:MM" (UTC), e.g. "01:00"');
};

const srsSecret = (v: unknown): Result<string> =>
  typeof v === 'string' && v.length >= 16 ? ok(v) : bad('expected a string of at least 16 characters');

const cidrItem = (s: string): Result<string> => {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(s);
  const family = m ? isIP(m[1]) : 0;
  const bits = m ? Number(m[2]) : -1;
  if (family === 0 || bits > (family === 4 ? 32 : 128)) {
    return bad(`"${s}" is not a network in CIDR form (e.g. "127.0.0.0/8" or "::1/128")`);
  }
  return ok(s);
};

const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const logLevel = (v: unknown): Result<(typeof logLevels)[number]> =>
  typeof v === 'string' && (logLevels as readonly string[]).includes(v)
    ? ok(v as (typeof logLevels)[number])
    : bad(`expected one of ${logLevels.map((l) => `"${l}"`).join(', ')}`);

/** One of a fixed set of words. */
function oneOf<const T extends readonly string[]>(words: T): (v: unknown) => Result<T[number]> {
  return (v) =>
    typeof v === 'string' && (words as readonly string[]).includes(v) ? ok(v as T[number]) : bad(`expected one of ${words.map((w) => `"${w}"`).join(', ')}`);
}

/** Where LOGIN and AUTHENTICATE PLAIN/LOGIN are accepted without TLS (Dovecot's disable_plaintext_auth). */
const plaintextAuth = (v: unknown): Result<'never' | 'loopback' | 'always'> =>
  v === 'never' || v === 'loopback' || v === 'always' ? ok(v) : bad('expected "never", "loopback" or "always"');

/** A login name (as useradd takes it) or a numeric uid. */
const userName = (v: unknown): Result<string> =>
  typeof v === 'string' && /^([a-z_][a-z0-9_.-]*\$?|\d+)$/i.test(v) && v.length <= 32
    ? ok(v)
    : bad('expected a user name (e.g. "correio") or a numeric uid');

const storageUrl = (v: unknown): Result<string> =>
  typeof v === 'string' && /^(file:|postgres(ql)?:\/\/)/.test(v)
    ? ok(v)
    : bad('expected "file:" or a "postgres://…" URL');

export interface RouteValue {
  transport: string;
  nextHop: string;
}

const routes = (v: unknown): Result<Record<string, RouteValue>> => {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Date) {
    return bad('expected a table of domain = "transport:next-hop"');
  }
  const out: Record<string, RouteValue> = {};
  for (const [k, target] of Object.entries(v)) {
    const d = k.toLowerCase().replace(/\.$/, '');
    if (!isDomainName(d)) return bad(`"${k}" is not a domain name`, [k]);
    const m = typeof target === 'string' ? /^([a-z][a-z0-9-]*):(.+)$/.exec(target) : null;
    if (!m) return bad('expected "transport:next-hop", e.g. "smtp:[127.0.0.1]:2526"', [k]);
    // a webhook route's next hop is the URL posted to: https://, or http:// to loopback only
    const urlProblem = m[1] === 'webhook' ? httpUrlProblem(m[2]) : undefined;
    if (urlProblem !== undefined) return bad(urlProblem, [k]);
    out[d] = { transport: m[1], nextHop: m[2] };
  }
  return ok(out);
};

/** [webhook] secrets: URL = "shared secret" (the HMAC-SHA256 key for that URL). */
const webhookSecrets = (v: unknown): Result<Record<string, string>> => {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Date) return bad('expected a table of "https://…" = "secret"');
  const out: Record<string, string> = {};
  for (const [url, secret] of Object.entries(v)) {
    const problem = httpUrlProblem(url);
    if (problem !== undefined) return bad(problem, [url]);
    // RFC 2104 §3: a key shorter than the hash output (32 octets) weakens the MAC
    if (typeof secret !== 'string' || Buffer.byteLength(secret) < 16) return bad('expected a secret of at least 16 characters (e.g. from "openssl rand -hex 32")', [url]);
    out[url] = secret;
  }
  return ok(out);
};

/** Where a file or pipe target may come from: the operator's aliases, or :include: files. */
const allTargetClasses = ['alias', 'include'] as const;
export type TargetClassValue = (typeof allTargetClasses)[number];

const targetClasses = (v: unknown): Result<TargetClassValue[]> => {
  const items = typeof v === 'string' ? v.split(/[\s,]+/).filter((x) => x !== '') : v;
  if (!Array.isArray(items) || !items.every((x): x is TargetClassValue => (allTargetClasses as readonly unknown[]).includes(x))) {
    return bad('expected a list of "alias" and "include" (may be empty), e.g. ["alias", "include"]');
  }
  return ok([...new Set(items)]);
};

/** The http listen key takes one address or a list. */
const listenOneOrMany = (v: unknown): Result<ListenAddress[]> =>
  typeof v === 'string' ? listenList([v]) : listenList(v);

export const configSchema = z
  .strictObject({
    hostname: field(hostName, () => osHostname().toLowerCase()),
    data_dir: field(str, () => 'var'),
    local_domains: field(listOf(domainItem, 'domain names', true), () => ['localhost']),
    aliases_file: optional(str),
    // the user `correio serve` runs as once it has bound its ports (started as root); absent:
    // the owner of data_dir (docs/install.md)
    run_as: optional(userName),
    // local users whose `sendmail -f` (and -r) may set another envelope sender; root and run_as
    // always may (they write the spool directly)
    trusted_users: field(listOf((u) => userName(u), 'user names'), () => []),
    smtp: table({
        listen: field(socketListenList, () => [{ host: '127.0.0.1', port: 2525 }]),
        submission: field(socketListenList, () => []),
        submissions: field(listenList, () => []),
        max_message_size: field(size, () => 25 * 1024 * 1024),
        // RFC 5321 §4.5.3.1.8: at least 100 recipients must be accepted.
        max_recipients: field(
          (v) => {
            const r = positiveInt(v);
            return r.ok && r.value < 100 ? bad('must be at least 100 (RFC 5321 §4.5.3.1.8)') : r;
          },
          () => 1000,
        ),
        max_connections: field(positiveInt, () => 500),
        max_connections_per_ip: field(positiveInt, () => 50),
        trusted_networks: field(listOf(cidrItem, 'CIDR networks'), () => ['127.0.0.0/8', '::1/128']),
        // AUTH on the MX port: off, as most sites run it (submission is where users log in)
        auth_on_mx: field(bool, () => false),
        tls_cert: optional(str),
        tls_key: optional(str),
        command_timeout: field(duration, () => 5 * 60_000),
        data_timeout: field(duration, () => 3 * 60_000),
        // octets per second: a DATA body may take data_timeout + size / min_data_rate seconds
        min_data_rate: field(size, () => 500),
        // who may connect to a "unix:" listener: its file mode (owner: correio's user and group)
        socket_mode: field(socketMode, () => 0o660),
        // processes that run SMTP sessions (issue 19; app/acceptor-pool.ts): 1 = the server's own;
        // unset: defaultSmtpProcesses() (load-config.ts)
        processes: optional(smtpProcesses),
      }),
    // the HTTP gateway out: routes "webhook:https://…" (issue 18, docs/gateways.md)
    webhook: table({
        timeout: field(duration, () => 30_000),
        secrets: field(webhookSecrets, () => ({})),
      }),
    // LMTP (RFC 2033): another mail system hands over mail for our mailboxes (issue 18)
    lmtp: table({
        listen: field(socketListenList, () => []),
        socket_mode: field(socketMode, () => 0o660),
      }),
    delivery: table({
        max_queue_lifetime: field(duration, () => 3 * 86_400_000),
        delay_warning: field(duration, () => 4 * 3_600_000),
        retry_min: field(duration, () => 5 * 60_000),
        retry_max: field(duration, () => 3_600_000),
        max_hops: field(positiveInt, () => 50),
        dns_servers: field(listOf(dnsItem, 'DNS server addresses'), () => []),
        mx_port: field(port, () => 25),
        concurrency: field(positiveInt, () => 20),
        // Postfix's default_destination_concurrency_limit is 20 too
        concurrency_per_route: field(positiveInt, () => 20),
        // caps every outbound SMTP client timeout; absent: RFC 5321 §4.5.3.2's minutes
        smtp_timeout: optional(duration),
        // removed (issue 11): measured slower and costlier than the main thread (docs/performance.md)
        worker: removed('removed: deliveries run in the main thread, which measured faster (docs/design-changes.md); delete this line'),
        // RFC 8461 (transport/mta-sts.ts): honour recipient domains' MTA-STS policies
        mta_sts: field(bool, () => true),
        mta_sts_port: field(port, () => 443),
        mta_sts_ca: optional(str),
        // RFC 7672 (transport/dane.ts): believe the AD bit of dns_servers for TLSA records
        dane: field(bool, () => false),
        routes: field(routes, () => ({})),
        // Postfix local(8)'s allow_mail_to_files / allow_mail_to_commands (issue 12 item 4)
        allow_mail_to_files: field(targetClasses, () => [...allTargetClasses]),
        allow_mail_to_commands: field(targetClasses, () => [...allTargetClasses]),
      }),
    pop3: table({
        listen: field(listenList, () => []),
        listen_tls: field(listenList, () => []),
        max_connections: field(positiveInt, () => 200),
        max_connections_per_ip: field(positiveInt, () => 20),
      }),
    // one authentication throttle for SMTP AUTH, POP3 and the coming IMAP and web logins
    auth: table({
        max_failures_per_address: field(positiveInt, () => 5),
        max_failures_per_account: field(positiveInt, () => 10),
        failure_window: field(duration, () => 15 * 60_000),
        failure_delay: field(duration, () => 1000),
      }),
    // IMAP (issue 14): absent listen means the embedded 127.0.0.1:2143, served when free
    imap: table({
        listen: optional(listenList),
        listen_tls: field(listenList, () => []),
        max_connections: field(positiveInt, () => 500),
        max_connections_per_ip: field(positiveInt, () => 50),
        plaintext_auth: field(plaintextAuth, () => 'loopback' as const),
        append_limit: optional(size),
      }),
    // the web (issue 16): JMAP, admin API, webmail; absent listen: 127.0.0.1:8025, served when free
    http: table({
        listen: optional(listenOneOrMany),
        listen_tls: field(listenOneOrMany, () => []),
        plaintext_auth: field(plaintextAuth, () => 'loopback' as const),
        // accounts that get the admin scope (the admin API and console)
        admins: field(listOf(addressItem, 'addresses'), () => []),
        max_body_size: optional(size),
        // a browser session (POST /api/session) ends this long after the login
        session_lifetime: field(duration, () => 7 * 86_400_000),
        // POST /api/v1/messages: requests a minute per API token (issue 18, docs/gateways.md)
        submission_rate: field(positiveInt, () => 60),
      }),
    // per-mailbox quotas (docs/quota.md): the default of users without their own; 0 = no limit
    quota: table({
        storage: field(sizeOrZero, () => 0),
        messages: field(nonNegativeInt, () => 0),
      }),
    // Prometheus /metrics, /healthz, /readyz (DESIGN.md §4); absent: the embedded default address
    metrics: table({ listen: optional(listenOneOrMany) }),
    // SPF/DKIM/DMARC on the MX port and DKIM signing (docs/trust.md)
    mail_auth: table({
        verify_inbound: field(bool, () => false),
        dmarc_reject: field(oneOf(['reject', 'quarantine', 'none'] as const), () => 'reject' as const),
        temperror: field(oneOf(['accept', 'defer'] as const), () => 'accept' as const),
        quarantine: field(oneOf(['junk', 'mark'] as const), () => 'junk' as const),
        // RFC 8301 §3.2: verifiers must refuse RSA keys under 1024 bits
        dkim_min_key_bits: field(
          (v) => {
            const r = positiveInt(v);
            return r.ok && r.value < 1024 ? bad('must be at least 1024 (RFC 8301 §3.2)') : r;
          },
          () => 1024,
        ),
        dkim_sign: field(bool, () => true),
        seal_lists: field(bool, () => true),
        // RFC 8617: mail an alias forwards to a remote target gets the alias domain's ARC set
        seal_forwards: field(bool, () => true),
        // RFC 8617 §7.2: ARC sealers whose passing chain overrides a DMARC failure (lists, forwarders we know)
        trusted_arc_sealers: field(listOf(domainItem, 'domain names'), () => [] as string[]),
        // SRS for forwarding (policy/trust/srs.ts); the domain defaults to the first local domain
        srs: field(bool, () => false),
        srs_domain: optional(domainName),
        srs_secret: optional(srsSecret),
        // rotation: addresses made with these still reverse until they expire (srs_max_age)
        srs_old_secrets: field(listOf((s) => srsSecret(s), 'SRS secrets of at least 16 characters'), () => []),
        srs_max_age: field(duration, () => 21 * 86_400_000),
      }),
    // content scan at end of data on the MX port (policy/rspamd.ts)
    policy: table({
      rspamd_url: optional(rspamdUrl),
      rspamd_failure: field(oneOf(['accept', 'defer'] as const), () => 'accept' as const),
      rspamd_timeout: field(duration, () => 20_000),
    }),
    // the daily TLS-RPT and DMARC aggregate reports sent by serve itself (app/report-timer.ts)
    reports: table({
      send_tls: field(bool, () => false),
      send_dmarc: field(bool, () => false),
      send_at: field(timeOfDay, () => 60),
      // reports other sites send: mail delivered to these local addresses is read and kept
      receive: field(listOf(addressItem, 'addresses'), () => [] as string[]),
      // RFC 7489 §7.3: failure reports to the ruf of domains whose mail fails DMARC here
      dmarc_failure: field(bool, () => false),
      dmarc_failure_per_hour: field(positiveInt, () => 10),
    }),
    // abuse defence on the MX port (policy/dns-lists.ts, rate-limits.ts, greylist.ts)
    abuse: table({
      dnsbl: field(listOf(domainItem, 'DNS zone names'), () => [] as string[]),
      dnsbl_action: field(oneOf(['reject', 'defer'] as const), () => 'reject' as const),
      // at RCPT, so that the recipients below still get mail from a listed client (RFC 5321 §4.5.1)
      dnsbl_stage: field(oneOf(['connect', 'rcpt'] as const), () => 'connect' as const),
      dnsbl_allow_recipients: field(listOf((s) => (/^[^\s@]+$/.test(s) ? ok(s.toLowerCase()) : bad(`"${s}" is not a local part (e.g. "postmaster")`)), 'local parts'), () => ['postmaster', 'abuse']),
      dnswl: field(listOf(domainItem, 'DNS zone names'), () => [] as string[]),
      rate_connections: field(nonNegativeInt, () => 0),
      rate_messages: field(nonNegativeInt, () => 0),
      rate_recipients: field(nonNegativeInt, () => 0),
      rate_messages_per_user: field(nonNegativeInt, () => 0),
      greylist: field(bool, () => false),
      greylist_delay: field(duration, () => 5 * 60_000),
      greylist_lifetime: field(duration, () => 35 * 86_400_000),
    }),
    storage: table({
      url: field(storageUrl, () => 'file:'),
      // PostgreSQL only: a delivery lease lasts this long without its heartbeat (a third of it)
      lease: field(duration, () => 60_000),
      // PostgreSQL only: how often a node re-reads the shared queue for envelopes it does not know
      poll_interval: field(duration, () => 10_000),
      // where the Maildirs are (default data_dir/mail): one directory every node shares
      mail_dir: optional(str),
      // PostgreSQL only: the session that LISTENs for folder changes, when url goes through a
      // transaction-pooling PgBouncer (which cannot carry LISTEN); absent: url
      listen_url: optional(storageUrl),
      // PostgreSQL only: the queue's commit as a named prepared statement, parsed and planned once
      // per connection; false behind a transaction-pooling PgBouncer older than 1.21 or without
      // max_prepared_statements (docs/scale.md)
      prepared_statements: field(bool, () => true),
    }),
    // json for files and pipes, text for people; auto: text on a terminal (docs/logging.md)
    log: table({
      level: field(logLevel, () => 'info' as const),
      format: field(oneOf(['auto', 'json', 'text'] as const), () => 'auto' as const),
      // how long the delivery history (data_dir/history, for correio trace) keeps a day's events
      history: field(duration, () => 7 * 86_400_000),
    }),
  })
  .superRefine((c, ctx) => {
    if (c.storage.listen_url !== undefined && !(/^postgres/.test(c.storage.listen_url) && /^postgres/.test(c.storage.url))) {
      ctx.addIssue({ code: 'custom', path: ['storage', 'listen_url'], message: 'needs a "postgres://…" url and listen_url' });
    }
    if ((c.smtp.tls_cert === undefined) !== (c.smtp.tls_key === undefined)) {
      const missing = c.smtp.tls_cert === undefined ? 'tls_cert' : 'tls_key';
      const other = missing === 'tls_cert' ? 'tls_key' : 'tls_cert';
      ctx.addIssue({ code: 'custom', path: ['smtp', other], message: `needs smtp.${missing} too` });
    }
    if (c.smtp.submissions.length > 0 && c.smtp.tls_cert === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['smtp', 'submissions'],
        message: 'implicit TLS needs smtp.tls_cert and smtp.tls_key',
      });
    }
    // bounces to SRS addresses must pass relay control: the SRS domain is one of ours
    if (c.mail_auth.srs_domain !== undefined && !c.local_domains.includes(c.mail_auth.srs_domain)) {
      ctx.addIssue({ code: 'custom', path: ['mail_auth', 'srs_domain'], message: `must be one of local_domains (${c.local_domains.join(', ')}): bounces to it come back here` });
    }
    if (c.delivery.retry_min > c.delivery.retry_max) {
      ctx.addIssue({ code: 'custom', path: ['delivery', 'retry_min'], message: 'must not exceed delivery.retry_max' });
    }
  });

export type RawConfig = z.output<typeof configSchema>;
