/**
 * t-64: a mailing list's copies are ARC-sealed (RFC 8617) and DKIM-signed by the list's domain
 * (issue 15). The list team@s1.test lives at S1 (127.0.0.2), which has an RSA DKIM key for
 * s1.test published in a real DNS server and checks inbound mail; the member bob is at S2
 * (127.0.0.3), which checks inbound mail too. alice@s3.test (SPF: 127.0.0.4) writes to the list.
 * Checks: bob's copy keeps the List-* fields; S2's Authentication-Results says arc=pass and
 * dkim=pass for header.d=s1.test; the copy's ARC set is i=1, cv=none, and its
 * ARC-Authentication-Results carries what S1 found (spf=pass for alice); and dkimpy
 * (python3-dkim, an implementation that is not ours) verifies the ARC chain (pass) and the
 * list's DKIM signature. With the list's copy changed after sealing, dkimpy says fail. A copy
 * of mail from a p=reject domain fails DMARC at S2 (the list's envelope and signature are not
 * the author's), and is delivered because S2 lists s1.test in `trusted_arc_sealers`.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMxSites, type MxSites } from '../helpers/mx-sites.js';
import { sendMail, type Site } from '../helpers/site.js';
import { python3, pythonWithModule } from '../helpers/python.js';
import { generateDkimKey } from '../../src/policy/index.js';

let mx: MxSites;
let s1: Site;
let s2: Site;
let keyDir: string;
const records: Record<string, string> = {};

before(async () => {
  keyDir = await mkdtemp(join(tmpdir(), 'correio-t64-'));
  const key = generateDkimKey(keyDir, 's1.test', 'list', 'rsa-2048');
  records[`${key.name}.`] = key.value;
  // S1 and S2 deliver from 127.0.0.1: not trusted there, so each checks what it receives
  const checked = { smtp: { trusted_networks: ['192.0.2.0/24'] }, tables: '[mail_auth]\nverify_inbound = true\n' };
  mx = await startMxSites(
    [
      { domain: 's1.test', ip: '127.0.0.2', dataDir: keyDir, users: ['owner@s1.test'], ...checked },
      // S2 trusts S1's seals (RFC 8617 §7.2): a DMARC failure of a list copy is not acted on
      { domain: 's2.test', ip: '127.0.0.3', users: ['bob@s2.test'], ...checked, tables: `${checked.tables}trusted_arc_sealers = ["s1.test"]\n` },
    ],
    { retry_min: '1s', retry_max: '1s', smtp_timeout: '5s' },
  );
  [s1, s2] = mx.sites;
  mx.dns.zone[key.name] = { txt: [key.value] };
  mx.dns.zone['s3.test'] = { txt: ['v=spf1 ip4:127.0.0.4 -all'] };
  mx.dns.zone['s1.test'] = { ...mx.dns.zone['s1.test'], txt: ['v=spf1 ip4:127.0.0.1 -all'] };
  const directory = s1.app?.backends.directory;
  assert.ok(directory);
  await directory.createList('team@s1.test', 'owner@s1.test', 'the team');
  await directory.addListMembers('team@s1.test', ['bob@s2.test']);
  await directory.setAlias('fwd@s1.test', ['bob@s2.test']);
});
after(async () => {
  await mx?.destroy();
  await rm(keyDir, { recursive: true, force: true });
});

let copy = '';

void test('the copy keeps its List-* fields and passes ARC and the list\'s DKIM at S2', async () => {
  const r = await sendMail(s1, 'alice@s3.test', ['team@s1.test'], 'From: alice@s3.test\nTo: team@s1.test\nSubject: sealed\n\nhello team\n', { localAddress: '127.0.0.4' });
  assert.match(r.final ?? '', /^250/);
  [copy] = await s2.waitForMessages('bob@s2.test', 1);
  assert.match(copy, /^List-Id: .*<team\.s1\.test>\r?$/m);
  assert.match(copy, /^List-Post: <mailto:team@s1\.test>\r?$/m);
  assert.match(copy, /^ARC-Seal: i=1; a=rsa-sha256; .*cv=none/m);
  assert.match(copy, /^ARC-Message-Signature: i=1; /m);
  const aar = /^ARC-Authentication-Results: i=1; mx\.s1\.test;[^\n]*(\n[ \t][^\n]*)*/m.exec(copy)?.[0] ?? '';
  assert.match(aar, /spf=pass/, aar);
  const ar = /^Authentication-Results: mx\.s2\.test;[^\n]*(\n[ \t][^\n]*)*/m.exec(copy)?.[0] ?? '';
  assert.match(ar, /arc=pass/, ar);
  assert.match(ar, /dkim=pass[^;]*header\.d=s1\.test/, ar);
});

async function dkimpy(python: string, message: string): Promise<string> {
  const file = join(keyDir, `copy-${Math.random().toString(36).slice(2)}.eml`);
  await writeFile(file, message.replace(/\r?\n/g, '\r\n'));
  const script = [
    'import dkim, json, sys',
    'recs = json.loads(sys.argv[2])',
    'def dnsfunc(name, timeout=5):',
    '    n = name.decode() if isinstance(name, bytes) else name',
    '    return recs.get(n, "").encode()',
    'msg = open(sys.argv[1], "rb").read()',
    'cv, results, comment = dkim.arc_verify(msg, dnsfunc=dnsfunc)',
    'd = dkim.DKIM(msg)',
    'n = len([h for h in d.headers if h[0].lower() == b"dkim-signature"])',
    'def one(i):',
    '    try:',
    '        return d.verify(idx=i, dnsfunc=dnsfunc)',
    '    except dkim.DKIMException:',
    '        return False',
    'ok = n > 0 and any(one(i) for i in range(n))',
    'print(cv.decode() if isinstance(cv, bytes) else cv, ok)',
  ].join('\n');
  const r = await python3(script, [file, JSON.stringify(records)], python);
  assert.equal(r.code, 0, r.err);
  return r.out.trim();
}

void test('dkimpy (python3-dkim) verifies the ARC chain and the list\'s DKIM signature; a changed copy fails', async (t) => {
  assert.ok(copy !== '', 'the first test delivered a copy');
  const python = await pythonWithModule('dkim');
  if (python === undefined) {
    t.skip('Python module dkim missing: install the Debian package python3-dkim');
    return;
  }
  assert.equal(await dkimpy(python, copy), 'pass True');
  const bad = await dkimpy(python, copy.replace('hello team', 'hello there'));
  assert.equal(bad, 'fail False');
});

void test('trusted_arc_sealers: a list copy failing the author domain\'s p=reject DMARC is delivered on the trusted seal', async () => {
  mx.dns.zone['s4.test'] = { txt: ['v=spf1 ip4:127.0.0.4 -all'] };
  mx.dns.zone['_dmarc.s4.test'] = { txt: ['v=DMARC1; p=reject'] };
  const r = await sendMail(s1, 'carol@s4.test', ['team@s1.test'], 'From: carol@s4.test\nTo: team@s1.test\nSubject: strict\n\nfrom a p=reject domain\n', { localAddress: '127.0.0.4' });
  assert.match(r.final ?? '', /^250/, 'S1 accepts: SPF passes and aligns there');
  const copies = await s2.waitForMessages('bob@s2.test', 2);
  const strict = copies.find((m) => /^Subject: strict/m.test(m)) ?? '';
  const ar = /^Authentication-Results: mx\.s2\.test;[^\n]*(\n[ \t][^\n]*)*/m.exec(strict)?.[0] ?? '';
  assert.match(ar, /arc=pass/, ar);
  assert.match(ar, /dmarc=fail \(p=REJECT dis=NONE overridden: ARC sealed by trusted s1\.test\) header\.from=s4\.test/, ar);
});

void test('seal_forwards: mail an alias forwards to a remote target carries the alias domain\'s ARC set, passing at S2', async () => {
  const r = await sendMail(s1, 'alice@s3.test', ['fwd@s1.test'], 'From: alice@s3.test\nTo: fwd@s1.test\nSubject: forwarded\n\nvia an alias\n', { localAddress: '127.0.0.4' });
  assert.match(r.final ?? '', /^250/);
  const copies = await s2.waitForMessages('bob@s2.test', 3);
  const fwd = copies.find((m) => /^Subject: forwarded/m.test(m)) ?? '';
  assert.match(fwd, /^ARC-Seal: i=1; a=rsa-sha256; .*cv=none/m);
  const aar = /^ARC-Authentication-Results: i=1; mx\.s1\.test;[^\n]*(\n[ \t][^\n]*)*/m.exec(fwd)?.[0] ?? '';
  assert.match(aar, /spf=pass/, aar);
  const ar = /^Authentication-Results: mx\.s2\.test;[^\n]*(\n[ \t][^\n]*)*/m.exec(fwd)?.[0] ?? '';
  assert.match(ar, /arc=pass/, ar);
  assert.match(ar, /dkim=pass[^;]*header\.d=s1\.test/, ar);
});
