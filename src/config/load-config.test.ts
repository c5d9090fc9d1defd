import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir, hostname } from 'node:os';
import { join } from 'node:path';
import { ConfigError, defaultConfig, defaultSmtpProcesses, loadConfig, parseConfig } from './index.js';
import { parseListenAddress, formatListenAddress } from './listen-address.js';

const F = 'correio.toml';
function problem(text: string): string {
  try {
    parseConfig(text, { file: F, baseDir: '/etc/correio' });
  } catch (err) {
    assert.ok(err instanceof ConfigError, `not a ConfigError: ${String(err)}`);
    return err.message;
  }
  assert.fail(`accepted: ${text}`);
}

void test('embedded defaults are the ones DESIGN.md §4 gives', () => {
  const c = defaultConfig('/srv/x');
  assert.equal(c.hostname, hostname().toLowerCase());
  assert.equal(c.dataDir, '/srv/x/var');
  assert.deepEqual(c.localDomains, ['localhost']);
  assert.equal(c.aliasesFile, undefined);
  assert.equal(c.file, undefined);
  assert.deepEqual(c.smtp.listen, [{ host: '127.0.0.1', port: 2525 }]);
  assert.deepEqual(c.smtp.submission, []);
  assert.deepEqual(c.smtp.submissions, []);
  assert.equal(c.smtp.maxMessageSize, 25 * 1024 * 1024);
  assert.equal(c.smtp.maxRecipients, 1000);
  assert.equal(c.smtp.maxConnections, 500);
  assert.equal(c.smtp.maxConnectionsPerIp, 50);
  assert.deepEqual(c.smtp.trustedNetworks, ['127.0.0.0/8', '::1/128']);
  assert.equal(c.smtp.commandTimeout, 300_000);
  assert.equal(c.smtp.dataTimeout, 180_000);
  assert.equal(c.smtp.minDataRate, 500);
  assert.equal(c.delivery.maxQueueLifetime, 3 * 86_400_000);
  assert.equal(c.delivery.delayWarning, 4 * 3_600_000);
  assert.equal(c.delivery.retryMin, 300_000);
  assert.equal(c.delivery.retryMax, 3_600_000);
  assert.equal(c.delivery.maxHops, 50);
  assert.deepEqual(c.delivery.dnsServers, []);
  assert.equal(c.delivery.mxPort, 25);
  assert.equal(c.delivery.concurrency, 20);
  assert.equal(c.delivery.concurrencyPerRoute, 20);
  assert.equal(c.delivery.smtpTimeout, undefined);
  assert.deepEqual(c.delivery.routes, {});
  assert.deepEqual(c.pop3.listen, []);
  assert.deepEqual(c.imap.listen, [{ host: '127.0.0.1', port: 2143 }]); // issue 14: the embedded defaults serve IMAP
  assert.deepEqual(c.http.listen, [{ host: '127.0.0.1', port: 8025 }]); // issue 16: the embedded defaults serve the web
  assert.equal(c.http.isDefault, true);
  assert.deepEqual(c.http.admins, []);
  assert.equal(c.http.plaintextAuth, 'loopback');
  assert.equal(c.http.maxBodySize, c.smtp.maxMessageSize);
  assert.equal(c.storage.url, 'file:');
  assert.deepEqual([c.storage.leaseMs, c.storage.pollIntervalMs], [60_000, 10_000]);
  assert.equal(c.log.level, 'info');
});

void test('the DESIGN.md §4 example file parses to the values it says', () => {
  const c = parseConfig(
    `hostname = "mx.example.org"
data_dir = "var"
local_domains = ["Example.org"]
aliases_file = "/etc/aliases"

[smtp]
listen = ["127.0.0.1:2525"]
submission = ["127.0.0.1:2587"]
max_message_size = "25MB"
max_recipients = 1000
trusted_networks = ["127.0.0.0/8", "::1/128"]
tls_cert = "tls/cert.pem"
tls_key = "tls/key.pem"
submissions = ["[::1]:2465"]

[delivery]
max_queue_lifetime = "3d"
delay_warning = "4h"
retry_min = "5m"
retry_max = "1h"
max_hops = 50
dns_servers = ["127.0.0.1:5353", "::1"]
mx_port = 2526
smtp_timeout = "10s"
concurrency_per_route = 5
[delivery.routes]
"Example.NET" = "smtp:[127.0.0.1]:2526"

[pop3]
listen = ["127.0.0.1:2110"]
[imap]
listen = ["127.0.0.1:2143"]
[http]
listen = "127.0.0.1:8025"
admins = ["Boss@Example.ORG"]
max_body_size = "10MB"
[storage]
url = "file:"
[log]
level = "debug"
`,
    { file: F, baseDir: '/etc/correio', absoluteFile: '/etc/correio/correio.toml' },
  );
  assert.equal(c.file, '/etc/correio/correio.toml');
  assert.equal(c.hostname, 'mx.example.org');
  assert.equal(c.dataDir, '/etc/correio/var');
  assert.deepEqual(c.localDomains, ['example.org']);
  assert.equal(c.aliasesFile, '/etc/aliases');
  assert.equal(c.smtp.tlsCert, '/etc/correio/tls/cert.pem');
  assert.equal(c.smtp.tlsKey, '/etc/correio/tls/key.pem');
  assert.deepEqual(c.smtp.submission, [{ host: '127.0.0.1', port: 2587 }]);
  assert.deepEqual(c.smtp.submissions, [{ host: '::1', port: 2465 }]);
  assert.deepEqual(c.delivery.dnsServers, [
    { host: '127.0.0.1', port: 5353 },
    { host: '::1', port: 53 },
  ]);
  assert.equal(c.delivery.mxPort, 2526);
  assert.equal(c.delivery.smtpTimeout, 10_000);
  assert.equal(c.delivery.concurrencyPerRoute, 5);
  assert.deepEqual(c.delivery.routes, { 'example.net': { transport: 'smtp', nextHop: '[127.0.0.1]:2526' } });
  assert.deepEqual(c.http.listen, [{ host: '127.0.0.1', port: 8025 }]);
  assert.equal(c.http.isDefault, false);
  assert.deepEqual(c.http.admins, ['Boss@example.org']);
  assert.equal(c.http.maxBodySize, 10 * 1024 * 1024);
  assert.deepEqual(c.pop3.listen, [{ host: '127.0.0.1', port: 2110 }]);
  assert.equal(c.log.level, 'debug');
});

// Every error kind: one line naming file, line and key.
const errorTable: [string, string, string][] = [
  ['unknown top-level key', 'hostname = "a.b"\nsmpt = 1', 'correio.toml:2: unknown key "smpt"'],
  ['unknown table', '\n\n[smpt]\nlisten = []', 'correio.toml:3: unknown key "smpt"'],
  ['unknown key in a table', '[smtp]\nmax_recipients = 200\nlisen = []', 'correio.toml:3: unknown key "smtp.lisen"'],
  ['unknown dotted key', 'smtp.foo = 1', 'correio.toml:1: unknown key "smtp.foo"'],
  ['string for an integer', '[smtp]\n\nmax_recipients = "1000"', 'correio.toml:3: smtp.max_recipients: expected a positive integer'],
  ['negative integer', '[delivery]\nmax_hops = -1', 'correio.toml:2: delivery.max_hops: expected a positive integer'],
  ['float for an integer', '[delivery]\nconcurrency = 1.5', 'correio.toml:2: delivery.concurrency: expected a positive integer'],
  ['a string for a boolean', '[delivery]\ndane = "yes"', 'correio.toml:2: delivery.dane: expected true or false'],
  ['a removed key', '[delivery]\nworker = true', 'correio.toml:2: delivery.worker: removed: deliveries run in the main thread, which measured faster (docs/design-changes.md); delete this line'],
  ['zero per-route concurrency', '[delivery]\nconcurrency_per_route = 0', 'correio.toml:2: delivery.concurrency_per_route: expected a positive integer'],
  ['below the RFC minimum', '[smtp]\nmax_recipients = 10', 'correio.toml:2: smtp.max_recipients: must be at least 100 (RFC 5321 §4.5.3.1.8)'],
  ['bad port', '[delivery]\nmx_port = 70000', 'correio.toml:2: delivery.mx_port: expected a port number from 1 to 65535'],
  ['bad duration', '[delivery]\nretry_min = "5 minutes"', 'correio.toml:2: delivery.retry_min: expected a duration such as "30s", "5m", "4h" or "3d"'],
  ['number for a duration', '[smtp]\ncommand_timeout = 300', 'correio.toml:2: smtp.command_timeout: expected a duration such as "30s", "5m", "4h" or "3d"'],
  ['bad size', '[smtp]\nmax_message_size = "25 megs"', 'correio.toml:2: smtp.max_message_size: expected a size such as "512KB", "25MB" or "1GB"'],
  ['bad listen address', '[smtp]\nlisten = ["localhost"]', 'correio.toml:2: smtp.listen: "localhost" is not a "host:port" address (e.g. "127.0.0.1:2525" or "[::1]:2525")'],
  ['empty socket path', '[lmtp]\nlisten = ["unix:"]', 'correio.toml:2: lmtp.listen: "unix:" is not a UNIX socket path (e.g. "unix:/run/correio/smtp.sock"; at most 107 octets)'],
  ['socket mode not octal', '[lmtp]\nsocket_mode = "rw-rw----"', 'correio.toml:2: lmtp.socket_mode: expected permission bits in octal, e.g. "0660"'],
  ['a socket for POP3', '[pop3]\nlisten = ["unix:/run/p.sock"]', 'correio.toml:2: pop3.listen: "unix:/run/p.sock" is not a "host:port" address (e.g. "127.0.0.1:2525" or "[::1]:2525")'],
  ['bare IPv6 listen', '[imap]\nlisten = ["::1:143"]', 'correio.toml:2: imap.listen: "::1:143" is not a "host:port" address (e.g. "127.0.0.1:2525" or "[::1]:2525")'],
  ['listen not a list', '[pop3]\nlisten = 110', 'correio.toml:2: pop3.listen: expected a list of "host:port" addresses'],
  ['bad DNS server', '[delivery]\ndns_servers = ["dns.example"]', 'correio.toml:2: delivery.dns_servers: "dns.example" is not a DNS server address (e.g. "127.0.0.1" or "127.0.0.1:5353")'],
  ['empty local_domains', 'local_domains = []', 'correio.toml:1: local_domains: expected at least one domain name'],
  ['bad domain', 'local_domains = ["ex ample.org"]', 'correio.toml:1: local_domains: "ex ample.org" is not a domain name'],
  ['bad hostname', 'hostname = "-bad-"', 'correio.toml:1: hostname: "-bad-" is not a host name'],
  ['bad CIDR', '[smtp]\ntrusted_networks = ["10.0.0.0/33"]', 'correio.toml:2: smtp.trusted_networks: "10.0.0.0/33" is not a network in CIDR form (e.g. "127.0.0.0/8" or "::1/128")'],
  ['bad log level', '[log]\nlevel = "loud"', 'correio.toml:2: log.level: expected one of "fatal", "error", "warn", "info", "debug", "trace", "silent"'],
  ['bad storage url', '[storage]\nurl = "mysql://x"', 'correio.toml:2: storage.url: expected "file:" or a "postgres://…" URL'],
  ['bad route value', '[delivery.routes]\n"a.example" = "smtp:x"\n"b.example" = 3', 'correio.toml:3: delivery.routes."b.example": expected "transport:next-hop", e.g. "smtp:[127.0.0.1]:2526"'],
  ['bad route domain', '[delivery.routes]\n"not a domain" = "smtp:x"', 'correio.toml:2: delivery.routes."not a domain": "not a domain" is not a domain name'],
  ['scalar for a table', 'smtp = 3', 'correio.toml:1: smtp: expected a table'],
  ['empty data_dir', 'data_dir = ""', 'correio.toml:1: data_dir: expected a non-empty string'],
  ['cert without key', '[smtp]\ntls_cert = "c.pem"', 'correio.toml:2: smtp.tls_cert: needs smtp.tls_key too'],
  ['implicit TLS without cert', '[smtp]\nsubmissions = ["127.0.0.1:2465"]', 'correio.toml:2: smtp.submissions: implicit TLS needs smtp.tls_cert and smtp.tls_key'],
  ['bad admin address', '[http]\nadmins = ["root"]', 'correio.toml:2: http.admins: "root" is not an address (e.g. "alice@example.org")'],
  ['retry_min over retry_max', '[delivery]\nretry_min = "2h"\nretry_max = "1h"', 'correio.toml:2: delivery.retry_min: must not exceed delivery.retry_max'],
  // issue 13: syntax errors name line and column and say what to fix, in plain words
  [
    'TOML syntax error',
    'hostname = "a"\nx = = 1',
    'correio.toml:2: TOML syntax error at line 2, column 5: the value of x is missing or not valid (text needs quotes: "…"; true/false, numbers and [arrays] do not)',
  ],
  [
    'unterminated string',
    'hostname = "a\n[smtp]',
    'correio.toml:1: TOML syntax error at line 1, column 14: a string is not closed: the closing quote is missing at the end of the line',
  ],
  ['unclosed table header', '[smtp\nmax_recipients = 5', 'correio.toml:1: TOML syntax error at line 1, column 6: a table header is not closed: "]" is missing'],
  ['key twice', 'hostname = "a"\nhostname = "b"', 'correio.toml:2: TOML syntax error at line 2, column 1: hostname is defined twice (or a table and a key share its name)'],
  [
    'text after a value',
    'max_hops = 5 6',
    'correio.toml:1: TOML syntax error at line 1, column 14: unexpected text after the value: write one key = value per line (comments start with #)',
  ],
];

for (const [name, text, expected] of errorTable) {
  void test(`config error: ${name}`, () => {
    assert.equal(problem(text), expected);
  });
}

void test('every problem is listed, in file order', () => {
  try {
    parseConfig('[smtp]\nmax_recipients = "x"\nlisen = 1\n[log]\nlevel = 3', { file: F });
    assert.fail('accepted');
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    assert.equal(err.kind, 'invalid');
    assert.deepEqual(err.problems.map((p) => p.split(':')[1]), ['2', '3', '5']);
  }
});

void test('UNIX socket listeners: SMTP and LMTP, paths relative to the config file, modes in octal', () => {
  const c = parseConfig('[smtp]\nlisten = ["unix:run/smtp.sock", "127.0.0.1:25"]\nsocket_mode = "0666"\n[lmtp]\nlisten = ["unix:/run/correio/lmtp.sock"]\n', { file: F, baseDir: '/etc/correio' });
  assert.deepEqual(c.smtp.listen, [{ host: 'unix', port: 0, path: '/etc/correio/run/smtp.sock' }, { host: '127.0.0.1', port: 25 }]);
  assert.equal(c.smtp.socketMode, 0o666);
  assert.deepEqual(c.lmtp, { listen: [{ host: 'unix', port: 0, path: '/run/correio/lmtp.sock' }], socketMode: 0o660 });
  assert.deepEqual(parseConfig('').lmtp, { listen: [], socketMode: 0o660 });
});

void test('listen addresses: IPv4, IPv6 in brackets, names, defaults', () => {
  assert.deepEqual(parseListenAddress('127.0.0.1:2525'), { host: '127.0.0.1', port: 2525 });
  assert.deepEqual(parseListenAddress('[::1]:2525'), { host: '::1', port: 2525 });
  assert.deepEqual(parseListenAddress('localhost:25'), { host: 'localhost', port: 25 });
  assert.deepEqual(parseListenAddress('[::1]', 53), { host: '::1', port: 53 });
  assert.equal(parseListenAddress('[::1]'), undefined);
  assert.equal(parseListenAddress('[nothost]:25'), undefined);
  assert.equal(parseListenAddress('127.0.0.1:99999'), undefined);
  assert.equal(formatListenAddress({ host: '::1', port: 25 }), '[::1]:25');
  assert.equal(formatListenAddress({ host: '127.0.0.1', port: 25 }), '127.0.0.1:25');
});

void test('loadConfig: --config, then $CORREIO_CONFIG, then ./correio.toml, then defaults', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'correio-config-'));
  try {
    await mkdir(join(dir, 'etc'));
    await writeFile(join(dir, 'etc', 'a.toml'), 'hostname = "a.example"\ndata_dir = "spool"\n');
    await writeFile(join(dir, 'etc', 'b.toml'), 'hostname = "b.example"\n');
    // no file anywhere: embedded defaults, data_dir relative to cwd
    const d = loadConfig({ env: {}, cwd: dir });
    assert.equal(d.file, undefined);
    assert.equal(d.dataDir, join(dir, 'var'));
    // ./correio.toml
    await writeFile(join(dir, 'correio.toml'), 'hostname = "c.example"\n');
    assert.equal(loadConfig({ env: {}, cwd: dir }).hostname, 'c.example');
    // $CORREIO_CONFIG wins over ./correio.toml
    assert.equal(loadConfig({ env: { CORREIO_CONFIG: 'etc/b.toml' }, cwd: dir }).hostname, 'b.example');
    // --config wins over both; data_dir is relative to the file's directory
    const a = loadConfig({ path: 'etc/a.toml', env: { CORREIO_CONFIG: 'etc/b.toml' }, cwd: dir });
    assert.equal(a.hostname, 'a.example');
    assert.equal(a.dataDir, join(dir, 'etc', 'spool'));
    assert.equal(a.file, join(dir, 'etc', 'a.toml'));
    // a named file that is missing is an error, not the defaults
    assert.throws(
      () => loadConfig({ path: 'nope.toml', env: {}, cwd: dir }),
      (err: unknown) =>
        err instanceof ConfigError && err.kind === 'unreadable' && err.message === 'nope.toml: cannot read config file: no such file',
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

void test('the complete example in docs/config.md is a valid configuration', async () => {
  const { readFile } = await import('node:fs/promises');
  const { projectRoot } = await import('../../test/helpers/paths.js');
  const doc = await readFile(join(projectRoot, 'docs', 'config.md'), 'utf8');
  const m = /## A complete example\s+```toml\n([\s\S]*?)```/.exec(doc);
  assert.ok(m, 'docs/config.md has a "complete example" TOML block');
  const c = parseConfig(m[1], { file: 'docs/config.md' });
  assert.deepEqual(c.localDomains, ['example.org', 'example.com']);
  assert.deepEqual(c.quota, { storage: 2 * 1024 ** 3, messages: 0 });
  assert.deepEqual(c.smtp.listen, [
    { host: '0.0.0.0', port: 25 },
    { host: '::', port: 25 },
  ]);
});

void test('[pop3] connection limits and the [auth] throttle: defaults and values', () => {
  const d = defaultConfig('/srv/x');
  assert.equal(d.pop3.maxConnections, 200);
  assert.equal(d.pop3.maxConnectionsPerIp, 20);
  assert.deepEqual(d.auth, { maxFailuresPerAddress: 5, maxFailuresPerAccount: 10, failureWindow: 900_000, failureDelay: 1000 });
  const c = parseConfig(`[pop3]
max_connections = 50
max_connections_per_ip = 4
[auth]
max_failures_per_address = 3
max_failures_per_account = 7
failure_window = "1h"
failure_delay = "2s"
`);
  assert.equal(c.pop3.maxConnections, 50);
  assert.equal(c.pop3.maxConnectionsPerIp, 4);
  assert.deepEqual(c.auth, { maxFailuresPerAddress: 3, maxFailuresPerAccount: 7, failureWindow: 3_600_000, failureDelay: 2000 });
  assert.throws(() => parseConfig('[auth]\nmax_failures_per_address = 0\n'), /auth\.max_failures_per_address: expected a positive integer/);
  assert.throws(() => parseConfig('[auth]\nlockout = 1\n'), /lockout/);
  assert.equal(parseConfig('[smtp]\nmin_data_rate = "2KB"\n').smtp.minDataRate, 2048);
});

void test('[quota] defaults (no limit), sizes and counts, bad values named; http.submission_rate', () => {
  const d = defaultConfig('/srv/x');
  assert.deepEqual(d.quota, { storage: 0, messages: 0 });
  assert.equal(d.http.submissionRate, 60);
  const c = parseConfig('[quota]\nstorage = "500MB"\nmessages = 10000\n[http]\nsubmission_rate = 5\n');
  assert.deepEqual(c.quota, { storage: 500 * 1024 ** 2, messages: 10000 });
  assert.equal(c.http.submissionRate, 5);
  assert.equal(parseConfig('[quota]\nstorage = 0\n').quota.storage, 0);
  assert.throws(() => parseConfig('[quota]\nstorage = "lots"\n'), /quota\.storage: expected a size such as "512MB" or "1GB", or 0 for no limit/);
  assert.throws(() => parseConfig('[quota]\nmessages = -1\n'), /quota\.messages: expected a whole number/);
  assert.throws(() => parseConfig('[http]\nsubmission_rate = 0\n'), /http\.submission_rate: expected a positive integer/);
});

void test('[mail_auth] SRS keys: defaults, the SRS domain among local_domains, a long enough secret', () => {
  const d = parseConfig('local_domains = ["b.example", "a.example"]\n');
  assert.equal(d.mailAuth.srs, false);
  assert.equal(d.mailAuth.srsDomain, 'b.example');
  assert.equal(d.mailAuth.srsSecret, undefined);
  assert.equal(d.mailAuth.srsMaxAge, 21 * 86_400_000);
  const c = parseConfig('local_domains = ["b.example", "a.example"]\n[mail_auth]\nsrs = true\nsrs_domain = "A.example"\nsrs_secret = "sixteen chars ok"\nsrs_max_age = "7d"\n');
  assert.equal(c.mailAuth.srsDomain, 'a.example');
  assert.equal(c.mailAuth.srsSecret, 'sixteen chars ok');
  assert.equal(c.mailAuth.srsMaxAge, 7 * 86_400_000);
  assert.throws(() => parseConfig('local_domains = ["b.example"]\n[mail_auth]\nsrs_domain = "c.example"\n'), /mail_auth\.srs_domain: must be one of local_domains/);
  assert.throws(() => parseConfig('[mail_auth]\nsrs_secret = "short"\n'), /mail_auth\.srs_secret: expected a string of at least 16 characters/);
});

void test('[smtp] processes: 2 by default (1 on a single core), a number or "auto" when set; whether the file set it', () => {
  assert.deepEqual([1, 2, 4, 64].map((cores) => defaultSmtpProcesses(cores)), [1, 2, 2, 2]);
  const d = parseConfig('', { file: F, baseDir: '/etc/correio' }).smtp;
  assert.deepEqual([d.processes, d.processesSet], [defaultSmtpProcesses(), false]);
  const one = parseConfig('[smtp]\nprocesses = 1\n', { file: F, baseDir: '/etc/correio' }).smtp;
  assert.deepEqual([one.processes, one.processesSet], [1, true]);
  const auto = parseConfig('[smtp]\nprocesses = "auto"\n', { file: F, baseDir: '/etc/correio' }).smtp;
  assert.equal(auto.processes, Math.min(64, availableParallelism()));
  assert.match(problem('[smtp]\nprocesses = 0\n'), /smtp\.processes: expected a whole number from 1 to 64, or "auto"/);
});
