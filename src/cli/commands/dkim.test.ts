/**
 * `correio dkim keygen` and `correio dns records` as a user runs them: the key file and its
 * mode, the record printed (and the same record in `dns records`), refusals with their sysexits
 * codes, and the MX/SPF/DMARC lines from the configuration.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../../test/helpers/cli.js';
import { zoneTxt } from '../../policy/index.js';
import { fixturesDir } from '../../../test/helpers/paths.js';

const CONFIG = 'hostname = "mx.example.org"\ndata_dir = "var"\nlocal_domains = ["example.org"]\n[log]\nlevel = "silent"\n';

test('zone TXT lines: one quoted string up to 255 octets, several beyond', () => {
  assert.equal(zoneTxt('a.example', 'v=spf1 -all'), 'a.example. IN TXT "v=spf1 -all"');
  const long = zoneTxt('k._domainkey.a.example', 'x'.repeat(300));
  assert.equal(long, `k._domainkey.a.example. IN TXT ( "${'x'.repeat(255)}" "${'x'.repeat(45)}" )`);
});

test('dkim keygen and dns records', async () => {
  const cwd = await mkdtemp(join(tmpdir(), 'correio-dkim-cli-'));
  try {
    await writeFile(join(cwd, 'correio.toml'), CONFIG);
    // before any key: a line saying how to make one, and an empty JSON array
    assert.equal((await runCli(['dkim', 'list'], { cwd })).stdout, 'No DKIM keys yet: correio dkim keygen DOMAIN makes one\n');
    assert.equal((await runCli(['dkim', 'list', '--json'], { cwd })).stdout, '[]\n');
    const ed = await runCli(['dkim', 'keygen', 'Example.org', '--selector', 'ed1', '--algorithm', 'ed25519'], { cwd });
    assert.equal(ed.code, 0, ed.stderr);
    const record = ed.stdout.split('\n').find((l) => l.startsWith('ed1._domainkey.example.org. IN TXT'));
    assert.match(record ?? '', /^ed1\._domainkey\.example\.org\. IN TXT "v=DKIM1; k=ed25519; p=[A-Za-z0-9+/]{43}="$/);
    assert.match(ed.stderr, /key written to .*var\/dkim\/example\.org\/ed1\.pem/);
    assert.equal((await stat(join(cwd, 'var', 'dkim', 'example.org', 'ed1.pem'))).mode & 0o777, 0o600);

    const rsa = await runCli(['dkim', 'keygen', 'example.org', '--selector', 'rsa1'], { cwd });
    assert.equal(rsa.code, 0, rsa.stderr);
    assert.match(rsa.stdout, /^rsa1\._domainkey\.example\.org\. IN TXT \( "v=DKIM1; k=rsa; p=MIIB[^"]*" "[^"]+" \)$/m);

    const again = await runCli(['dkim', 'keygen', 'example.org', '--selector', 'ed1', '--algorithm', 'ed25519'], { cwd });
    assert.equal(again.code, 73);
    assert.match(again.stderr, /^correio: a key for selector ed1 of example\.org exists already/);
    const badAlg = await runCli(['dkim', 'keygen', 'example.org', '--algorithm', 'dsa'], { cwd });
    assert.equal(badAlg.code, 64);
    assert.match(badAlg.stderr, /--algorithm: expected ed25519 or rsa-2048/);
    const badSel = await runCli(['dkim', 'keygen', 'example.org', '--selector', '../x'], { cwd });
    assert.equal(badSel.code, 64);
    // a key file signs while it is there: no inactive keys, no activate/deactivate on "file:" storage
    const inactive = await runCli(['dkim', 'keygen', 'example.org', '--selector', 'later', '--inactive'], { cwd });
    assert.equal(inactive.code, 65);
    assert.match(inactive.stderr, /^correio: a key file signs from the next start or reload/);
    const off = await runCli(['dkim', 'deactivate', 'example.org', 'ed1'], { cwd });
    assert.equal(off.code, 65);
    assert.match(off.stderr, /^correio: with "file:" storage a key signs while its file is in .*dkim: move example\.org\/ed1\.pem in or out, then correio reload\n$/);
    assert.equal((await runCli(['dkim', 'list'], { cwd })).stdout, 'example.org ed1 ed25519-sha256 active file\nexample.org rsa1 rsa-sha256 active file\n');

    const recs = await runCli(['dns', 'records', 'example.org'], { cwd });
    assert.equal(recs.code, 0, recs.stderr);
    const lines = recs.stdout.split('\n');
    assert.ok(lines.includes('example.org. IN MX 10 mx.example.org.'));
    assert.ok(lines.includes('example.org. IN TXT "v=spf1 mx -all"'));
    assert.ok(lines.includes(record!), 'the keygen record is listed');
    assert.ok(lines.some((l) => l.startsWith('rsa1._domainkey.example.org. IN TXT (')));
    assert.ok(lines.includes('_dmarc.example.org. IN TXT "v=DMARC1; p=none; rua=mailto:postmaster@example.org"'));
    // RFC 8461 / RFC 8460: the MTA-STS record (its id a digest of the policy printed beside it) and TLS-RPT
    assert.ok(lines.some((l) => /^_mta-sts\.example\.org\. IN TXT "v=STSv1; id=[0-9a-f]{20}"$/.test(l)), recs.stdout);
    assert.match(recs.stdout, /serving https:\/\/mta-sts\.example\.org\/\.well-known\/mta-sts\.txt as: version: STSv1 \/ mode: testing \/ mx: mx\.example\.org \/ max_age: 604800/);
    assert.ok(lines.includes('_smtp._tls.example.org. IN TXT "v=TLSRPTv1; rua=mailto:postmaster@example.org"'));
    assert.equal(lines.filter((l) => l.includes(' IN TLSA ')).length, 0, 'no certificate, no TLSA record');
    const other = await runCli(['dns', 'records', 'other.example'], { cwd });
    assert.equal(other.code, 65);
    assert.match(other.stderr, /other\.example is not in local_domains/);
  } finally {
    await rm(cwd, { recursive: true, force: true });
  }
});

test('dns records: the TLSA record of the SMTP certificate (3 1 1), as openssl computes it', async (t) => {
  const crt = join(fixturesDir, 'tls', 'localhost.crt');
  let expected: string;
  try {
    // RFC 6698 §2.1: SHA-256 of the DER SubjectPublicKeyInfo
    const spki = execFileSync('openssl', ['x509', '-in', crt, '-noout', '-pubkey']);
    const der = execFileSync('openssl', ['pkey', '-pubin', '-outform', 'DER'], { input: spki });
    expected = execFileSync('openssl', ['dgst', '-sha256', '-r'], { input: der }).toString().split(' ')[0];
  } catch (err) {
    return t.skip(`openssl is needed to compute the expected record (${(err as Error).message.split('\n')[0]})`);
  }
  const cwd = await mkdtemp(join(tmpdir(), 'correio-tlsa-cli-'));
  try {
    await writeFile(join(cwd, 'correio.toml'), `${CONFIG.replace('[log]', `[smtp]\ntls_cert = "${crt}"\ntls_key = "${join(fixturesDir, 'tls', 'localhost.key')}"\n[log]`)}`);
    const recs = await runCli(['dns', 'records', 'example.org'], { cwd });
    assert.equal(recs.code, 0, recs.stderr);
    assert.ok(recs.stdout.split('\n').includes(`_25._tcp.mx.example.org. IN TLSA 3 1 1 ${expected}`), recs.stdout);
  } finally {
    await rm(cwd, { recursive: true, force: true });
  }
});
