/**
 * @module load-config
 * Finds, reads and validates correio.toml into a typed Config. The file is the --config
 * option, else $CORREIO_CONFIG, else ./correio.toml when it exists, else the embedded defaults.
 * Errors are one line naming file, line and key: `correio.toml:7: smtp.max_recipients: expected
 * a positive integer`, `correio.toml:3: unknown key "smpt"`; TOML syntax errors give line and
 * column in words and say what to fix (toml-syntax.ts).
 * Standards: TOML 1.0 (smol-toml).
 * Security: unknown keys are errors, never ignored (a typo must not silently drop a limit).
 * Limitations: only the first problem is in the message; ConfigError.problems has them all.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse, TomlError } from 'smol-toml';
import type { z } from 'zod';
import type { Config } from './config.js';
import { configSchema, defaultSmtpProcesses, type RawConfig } from './config-schema.js';
import { displayKey, keyLines, lineOf } from './key-lines.js';
import { plainTomlProblem } from './toml-syntax.js';
import type { ListenAddress } from './listen-address.js';

export type ConfigErrorKind = 'unreadable' | 'syntax' | 'invalid';

export class ConfigError extends Error {
  /** the file as named by the user, or "(defaults)" */
  readonly file: string;
  readonly kind: ConfigErrorKind;
  /** every problem found, one line each, in file order; message is the first */
  readonly problems: readonly string[];
  constructor(file: string, kind: ConfigErrorKind, problems: readonly string[], options?: { cause?: unknown }) {
    super(problems[0] ?? `${file}: invalid configuration`, options);
    this.name = 'ConfigError';
    this.file = file;
    this.kind = kind;
    this.problems = problems;
  }
}

export interface ParseConfigOptions {
  /** the file name shown in errors, e.g. "correio.toml" */
  file?: string;
  /** relative paths (data_dir, aliases_file, tls_*) are resolved against this; default cwd */
  baseDir?: string;
  /** stored as Config.file */
  absoluteFile?: string;
}

interface Problem {
  line: number;
  text: string;
}

function describeIssue(issue: z.core.$ZodIssue, file: string, lines: Map<string, number>): Problem[] {
  const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
  const strPath = path.filter((p): p is string => typeof p === 'string');
  const at = (line: number | undefined): string => `${file}${line ? `:${line}` : ''}`;
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((k) => {
      const line = lineOf(lines, [...strPath, k]);
      return { line: line ?? 0, text: `${at(line)}: unknown key "${displayKey([...strPath, k])}"` };
    });
  }
  const line = lineOf(lines, strPath);
  let message = issue.message;
  if (issue.code === 'invalid_type' && issue.expected === 'object') message = 'expected a table';
  return [{ line: line ?? 0, text: `${at(line)}: ${displayKey(path)}: ${message}` }];
}

function toConfig(raw: RawConfig, baseDir: string, absoluteFile: string | undefined): Config {
  const abs = (p: string): string => (isAbsolute(p) ? p : resolve(baseDir, p));
  const s = raw.smtp;
  const d = raw.delivery;
  // a "unix:" listener's relative path is the config file's folder's, like every path here
  const sockets = (list: readonly ListenAddress[]): ListenAddress[] => list.map((a) => (a.path === undefined ? a : { ...a, path: abs(a.path) }));
  return {
    ...(absoluteFile !== undefined ? { file: absoluteFile } : {}),
    hostname: raw.hostname,
    dataDir: abs(raw.data_dir),
    localDomains: [...new Set(raw.local_domains)],
    ...(raw.aliases_file !== undefined ? { aliasesFile: abs(raw.aliases_file) } : {}),
    ...(raw.run_as !== undefined ? { runAs: raw.run_as } : {}),
    trustedUsers: raw.trusted_users,
    smtp: {
      listen: sockets(s.listen),
      submission: sockets(s.submission),
      submissions: s.submissions,
      maxMessageSize: s.max_message_size,
      maxRecipients: s.max_recipients,
      maxConnections: s.max_connections,
      maxConnectionsPerIp: s.max_connections_per_ip,
      trustedNetworks: s.trusted_networks,
      authOnMx: s.auth_on_mx,
      ...(s.tls_cert !== undefined ? { tlsCert: abs(s.tls_cert) } : {}),
      ...(s.tls_key !== undefined ? { tlsKey: abs(s.tls_key) } : {}),
      commandTimeout: s.command_timeout,
      dataTimeout: s.data_timeout,
      minDataRate: s.min_data_rate,
      socketMode: s.socket_mode,
      processes: s.processes ?? defaultSmtpProcesses(),
      processesSet: s.processes !== undefined,
    },
    lmtp: { listen: sockets(raw.lmtp.listen), socketMode: raw.lmtp.socket_mode },
    webhook: { timeout: raw.webhook.timeout, secrets: raw.webhook.secrets },
    delivery: {
      maxQueueLifetime: d.max_queue_lifetime,
      delayWarning: d.delay_warning,
      retryMin: d.retry_min,
      retryMax: d.retry_max,
      maxHops: d.max_hops,
      dnsServers: d.dns_servers,
      mxPort: d.mx_port,
      concurrency: d.concurrency,
      concurrencyPerRoute: d.concurrency_per_route,
      ...(d.smtp_timeout !== undefined ? { smtpTimeout: d.smtp_timeout } : {}),
      mtaSts: d.mta_sts,
      mtaStsPort: d.mta_sts_port,
      ...(d.mta_sts_ca !== undefined ? { mtaStsCa: abs(d.mta_sts_ca) } : {}),
      dane: d.dane,
      routes: d.routes,
      allowMailToFiles: d.allow_mail_to_files,
      allowMailToCommands: d.allow_mail_to_commands,
    },
    pop3: {
      listen: raw.pop3.listen,
      listenTls: raw.pop3.listen_tls,
      maxConnections: raw.pop3.max_connections,
      maxConnectionsPerIp: raw.pop3.max_connections_per_ip,
    },
    auth: {
      maxFailuresPerAddress: raw.auth.max_failures_per_address,
      maxFailuresPerAccount: raw.auth.max_failures_per_account,
      failureWindow: raw.auth.failure_window,
      failureDelay: raw.auth.failure_delay,
    },
    imap: {
      listen: raw.imap.listen ?? [{ host: '127.0.0.1', port: 2143 }],
      isDefault: raw.imap.listen === undefined,
      listenTls: raw.imap.listen_tls,
      maxConnections: raw.imap.max_connections,
      maxConnectionsPerIp: raw.imap.max_connections_per_ip,
      plaintextAuth: raw.imap.plaintext_auth,
      appendLimit: raw.imap.append_limit ?? raw.smtp.max_message_size,
    },
    http: {
      listen: raw.http.listen ?? [{ host: '127.0.0.1', port: 8025 }],
      isDefault: raw.http.listen === undefined,
      listenTls: raw.http.listen_tls,
      plaintextAuth: raw.http.plaintext_auth,
      admins: raw.http.admins,
      maxBodySize: raw.http.max_body_size ?? raw.smtp.max_message_size,
      sessionLifetime: raw.http.session_lifetime,
      submissionRate: raw.http.submission_rate,
    },
    quota: { storage: raw.quota.storage, messages: raw.quota.messages },
    metrics: { listen: raw.metrics.listen ?? [{ host: '127.0.0.1', port: 9465 }], isDefault: raw.metrics.listen === undefined },
    mailAuth: {
      verifyInbound: raw.mail_auth.verify_inbound,
      dmarcReject: raw.mail_auth.dmarc_reject,
      temperror: raw.mail_auth.temperror,
      quarantine: raw.mail_auth.quarantine,
      dkimMinKeyBits: raw.mail_auth.dkim_min_key_bits,
      dkimSign: raw.mail_auth.dkim_sign,
      sealLists: raw.mail_auth.seal_lists,
      sealForwards: raw.mail_auth.seal_forwards,
      trustedArcSealers: raw.mail_auth.trusted_arc_sealers,
      srs: raw.mail_auth.srs,
      srsDomain: raw.mail_auth.srs_domain ?? [...new Set(raw.local_domains)][0],
      ...(raw.mail_auth.srs_secret !== undefined ? { srsSecret: raw.mail_auth.srs_secret } : {}),
      srsOldSecrets: raw.mail_auth.srs_old_secrets,
      srsMaxAge: raw.mail_auth.srs_max_age,
    },
    policy: { ...(raw.policy.rspamd_url !== undefined ? { rspamdUrl: raw.policy.rspamd_url } : {}), rspamdFailure: raw.policy.rspamd_failure, rspamdTimeout: raw.policy.rspamd_timeout },
    reports: { sendTls: raw.reports.send_tls, sendDmarc: raw.reports.send_dmarc, sendAt: raw.reports.send_at, receive: raw.reports.receive.map((a) => a.toLowerCase()), dmarcFailure: raw.reports.dmarc_failure, dmarcFailurePerHour: raw.reports.dmarc_failure_per_hour },
    abuse: {
      dnsbl: raw.abuse.dnsbl,
      dnsblAction: raw.abuse.dnsbl_action,
      dnsblStage: raw.abuse.dnsbl_stage,
      dnsblAllowRecipients: raw.abuse.dnsbl_allow_recipients,
      dnswl: raw.abuse.dnswl,
      rateConnections: raw.abuse.rate_connections,
      rateMessages: raw.abuse.rate_messages,
      rateRecipients: raw.abuse.rate_recipients,
      rateMessagesPerUser: raw.abuse.rate_messages_per_user,
      greylist: raw.abuse.greylist,
      greylistDelay: raw.abuse.greylist_delay,
      greylistLifetime: raw.abuse.greylist_lifetime,
    },
    storage: {
      url: raw.storage.url,
      leaseMs: raw.storage.lease,
      pollIntervalMs: raw.storage.poll_interval,
      preparedStatements: raw.storage.prepared_statements,
      ...(raw.storage.mail_dir !== undefined ? { mailDir: abs(raw.storage.mail_dir) } : {}),
      ...(raw.storage.listen_url !== undefined ? { listenUrl: raw.storage.listen_url } : {}),
    },
    log: { level: raw.log.level, format: raw.log.format, history: raw.log.history },
  };
}

/** Parses and validates TOML text; throws ConfigError. */
export function parseConfig(text: string, opts: ParseConfigOptions = {}): Config {
  const file = opts.file ?? '(config)';
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    if (err instanceof TomlError) {
      const first = err.message.split('\n')[0].replace(/^Invalid TOML document: /, '');
      const plain = plainTomlProblem(first, text, err.line, err.column);
      throw new ConfigError(file, 'syntax', [`${file}:${err.line}: TOML syntax error at line ${err.line}, column ${err.column}: ${plain}`], {
        cause: err,
      });
    }
    throw err;
  }
  const r = configSchema.safeParse(doc);
  if (!r.success) {
    const lines = keyLines(text);
    const problems = r.error.issues
      .flatMap((i) => describeIssue(i, file, lines))
      .sort((a, b) => a.line - b.line)
      .map((p) => p.text);
    throw new ConfigError(file, 'invalid', problems, { cause: r.error });
  }
  return toConfig(r.data, opts.baseDir ?? process.cwd(), opts.absoluteFile);
}

/** The embedded defaults; data_dir is relative to `cwd`. */
export function defaultConfig(cwd: string = process.cwd()): Config {
  return parseConfig('', { file: '(defaults)', baseDir: cwd });
}

export interface LoadConfigOptions {
  /** --config FILE */
  path?: string;
  /** for $CORREIO_CONFIG; default process.env */
  env?: Readonly<Record<string, string | undefined>>;
  /** where ./correio.toml is looked for and relative paths resolve; default process.cwd() */
  cwd?: string;
}

/** Which file loadConfig would read, or undefined for the embedded defaults. */
export function configPath(opts: LoadConfigOptions = {}): string | undefined {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  if (opts.path !== undefined && opts.path !== '') return opts.path;
  const fromEnv = env.CORREIO_CONFIG;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  return existsSync(resolve(cwd, 'correio.toml')) ? 'correio.toml' : undefined;
}

/** Loads the configuration (see the module header for the search order); throws ConfigError. */
export function loadConfig(opts: LoadConfigOptions = {}): Config {
  const cwd = opts.cwd ?? process.cwd();
  const path = configPath(opts);
  if (path === undefined) return defaultConfig(cwd);
  const absoluteFile = resolve(cwd, path);
  let text: string;
  try {
    text = readFileSync(absoluteFile, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EACCES' || code === 'EPERM'
          ? `permission denied: make it readable by the user that runs correio (uid ${process.getuid?.() ?? '?'})`
          : code === 'EISDIR'
            ? 'it is a directory: name the file itself'
            : (err as Error).message;
    throw new ConfigError(path, 'unreadable', [`${path}: cannot read config file: ${why}`], { cause: err });
  }
  return parseConfig(text, { file: path, baseDir: dirname(absoluteFile), absoluteFile });
}
