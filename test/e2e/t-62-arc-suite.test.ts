/**
 * t-62: ValiMail's ARC validation suite (`../shared/corpora/auth/arc/arc-draft-validation-tests.yml`,
 * 171 cases, RFC 8617 §5.2): each document's TXT records are served by a real DNS server, every
 * message goes through correio's inbound check (policy/trust authenticateInbound, as on the MX
 * port), and the `arc=` result in our Authentication-Results field (none when absent) must be
 * the suite's `cv`. Each message is also checked as intake checks a streamed body (the header
 * block, then the body in 7-octet pieces: startInbound, streamed-verify.ts): the
 * Authentication-Results field must be the one the whole message gives, and the verifier's
 * DKIM and ARC results those of mailauth's dkimVerify given the whole message as a Buffer (the
 * call the check made before it streamed). Read with Python's PyYAML; skipped with a message
 * without it or the corpus.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startDnsServer, type DnsTestServer } from '../helpers/dns-server.js';
import { DnsResolver } from '../../src/dns/index.js';
import { authenticateInbound, startInbound, StreamedVerify } from '../../src/policy/index.js';
import { loadYamlDocuments } from '../helpers/python.js';
import { splitMessageBuffer } from '../../src/protocol/mime/index.js';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import { arc } from 'mailauth/lib/arc/index.js';

const suiteFile = join(import.meta.dirname, '..', '..', '..', '..', 'shared', 'corpora', 'auth', 'arc', 'arc-draft-validation-tests.yml');

interface Doc {
  description: string;
  tests: Record<string, { message: string; cv: string | null; description?: string }>;
  'txt-records'?: Record<string, string>;
}

/** Cases whose result differs from the suite's, with why (each must still give the noted result). */
const emptyCv = "the suite's cv is empty here; RFC 8617 §5.2 (step 2) makes a chain whose newest ARC-Seal says cv=fail a fail, as mailauth answers";
const tagSyntax = 'mailauth 4.13.3 accepts an ARC-Seal whose tag list breaks RFC 6376 §3.2 syntax (RFC 8617 §4.1.3): bad or upper-case tag names, a repeated tag, a stray semicolon';
const KNOWN: Record<string, { got: string; why: string }> = {
  cv_fail_i1_as_cv_fail: { got: 'fail', why: emptyCv },
  cv_fail_i2_as2_fail: { got: 'fail', why: emptyCv },
  cv_fail_i2_as1_fail: { got: 'fail', why: emptyCv },
  as_format_inv_tag_key: { got: 'pass', why: tagSyntax },
  as_format_tags_dup: { got: 'pass', why: tagSyntax },
  as_format_tags_key_case: { got: 'pass', why: tagSyntax },
  as_format_tags_sc: { got: 'pass', why: tagSyntax },
};

/** Where the body starts (after the header block's empty line), or the end. */
function bodyStart(message: Buffer): number {
  const end = message.indexOf('\r\n\r\n');
  return end < 0 ? message.length : end + 4;
}

/** `feed` given the body of `message` in 7-octet pieces, each awaited when it asks to wait. */
async function inPieces(message: Buffer, from: number, feed: (chunk: Buffer) => void | Promise<void>): Promise<void> {
  for (let i = from; i < message.length; i += 7) await feed(message.subarray(i, Math.min(message.length, i + 7)));
}

function loadSuite(): Promise<Doc[] | string> {
  return loadYamlDocuments<Doc>(suiteFile);
}

let dns: DnsTestServer | undefined;
after(async () => dns?.close());

test('ARC validation suite: the arc= result of every case is the suite cv', { timeout: 240_000 }, async (t) => {
  if (!existsSync(suiteFile)) {
    t.skip(`corpus absent: ${suiteFile}`);
    return;
  }
  const suite = await loadSuite();
  if (typeof suite === 'string') {
    t.skip(suite);
    return;
  }
  dns = await startDnsServer({});
  const resolver = new DnsResolver({ servers: [dns.server], timeoutMs: 500, tries: 1 });
  const deps = { lookup: resolver.rawLookup, txt: (n: string) => resolver.findTxt(n) };
  const settings = { authservId: 'mx.test', dmarcReject: 'none' as const, temperror: 'accept' as const, dkimMinKeyBits: 1024 };
  const session = { protocol: 'ESMTP', heloName: 'client.test', remoteAddress: '127.0.0.9', mayRelay: false, submission: false };
  const mismatches: string[] = [];
  let cases = 0;
  for (const doc of suite) {
    if (!doc?.tests) continue;
    dns.zone = Object.fromEntries(Object.entries(doc['txt-records'] ?? {}).map(([k, v]) => [k, { txt: [v] }]));
    for (const [name, c] of Object.entries(doc.tests)) {
      cases++;
      const message = Buffer.from((c.message ?? '').replace(/\r?\n/g, '\r\n'));
      const verdict = await authenticateInbound(settings, deps, session, null, message, []);
      const got = /\barc=(\w+)/.exec(verdict.fields[0])?.[1] ?? 'none';
      // streamed as intake feeds a body: the same field
      const cut = bodyStart(message);
      const run = startInbound(settings, deps, session, null, { fields: [], complete: true }, message.subarray(0, cut));
      await inPieces(message, cut, (c) => run.body(c));
      const streamed = await run.finish();
      if (streamed.fields.join('\n') !== verdict.fields.join('\n')) mismatches.push(`${name}: streamed ${streamed.fields.join(' ')} whole ${verdict.fields.join(' ')}`);
      // the verifier fed pieces finds what mailauth finds given the whole message (a Buffer)
      const sv = new StreamedVerify({ lookup: deps.lookup, minBitLength: 1024, sender: 'postmaster@client.test' });
      await inPieces(message, 0, (c) => sv.write(c));
      const pieces = await sv.end();
      const whole = await dkimVerify(message, { resolver: deps.lookup as never, minBitLength: 1024, sender: 'postmaster@client.test' });
      const summary = async (r: Awaited<ReturnType<typeof dkimVerify>> | undefined): Promise<string> => {
        const data = (r as { arc?: unknown } | undefined)?.arc;
        const chain = data ? await arc(data as never, { resolver: deps.lookup as never, minBitLength: 1024 }).then((a) => `${String(a.status.result)} ${String(a.status.comment)} i=${String(a.i)}`, (e: Error) => e.message) : 'none';
        return JSON.stringify([(r?.results ?? []).map((x) => x.info), chain]);
      };
      const [a, b] = [await summary(pieces), await summary(whole)];
      if (a !== b) mismatches.push(`${name}: in pieces ${a}, whole ${b}`);
      const want = String(c.cv ?? 'none').trim().toLowerCase() || 'none';
      const known = KNOWN[name];
      if (known) {
        if (got !== known.got) mismatches.push(`${name}: known deviation changed: got ${got}, noted ${known.got}`);
      } else if (got !== want) mismatches.push(`${name}: got ${got}, want ${want}`);
    }
  }
  t.diagnostic(`${cases} cases, ${Object.keys(KNOWN).length} known deviations`);
  assert.ok(cases >= 150, `only ${cases} cases read`);
  assert.deepEqual(mismatches, []);
});

const corpus = join(import.meta.dirname, '..', '..', '..', '..', 'shared', 'corpora', 'auth');

test('DKIM and ARC corpora (dkimpy, mimekit, mailauth): a body fed in pieces gives the Authentication-Results of the whole message', { timeout: 120_000 }, async (t) => {
  const records = join(corpus, 'dkim', 'mailauth', 'dns.json');
  if (!existsSync(records)) return t.skip(`corpus absent: ${records}`);
  const files = [
    ...['rfc6376.msg', 'rfc6376.signed.msg', 'rfc6376.signed.rsa.msg', 'ed25519test.msg', 'ed25519test2.msg', 'test.message', 'test2.message', 'test_extra.message', 'test_nofrom.message', 'rfc6376.w1258.msg'].map((f) => join(corpus, 'dkim', 'dkimpy', f)),
    ...['gmail.msg', 'multipart-no-end-boundary.msg', 'rfc8463-example.msg'].map((f) => join(corpus, 'dkim', 'mimekit', f)),
    join(corpus, 'dkim', 'mailauth', 'signed.eml'),
    ...['arc-pass.eml', 'arc-pass2.eml', 'arc-fail.eml', 'arc-fail2.eml', 'arc-fail3.eml', 'authtest.eml', 'message1.eml', 'message2.eml', 'message3.eml'].map((f) => join(corpus, 'mailauth-fixtures', f)),
  ].filter((f) => existsSync(f));
  dns ??= await startDnsServer({});
  const zone = JSON.parse(readFileSync(records, 'utf8')) as Record<string, { TXT?: string[][] }>;
  dns.zone = Object.fromEntries(Object.entries(zone).filter(([, v]) => v.TXT).map(([k, v]) => [k, { txt: v.TXT!.map((p) => p.join('')) }]));
  // dkimpy's own key records for its test messages
  for (const [name, file] of [['test._domainkey.example.com', 'test.txt'], ['test2._domainkey.example.com', 'test2.txt'], ['ed25519test._domainkey.example.com', 'ed25519test.dns']]) {
    const f = join(corpus, 'dkim', 'dkimpy', file);
    if (existsSync(f)) dns.zone[name] = { txt: [readFileSync(f, 'utf8').replace(/^[^"]*"|"[^"]*$/gs, '').replace(/"\s*"/g, '').trim()] };
  }
  // generous: a DNS timeout on a loaded machine would differ between the two runs (temperror)
  const resolver = new DnsResolver({ servers: [dns.server], timeoutMs: 3000, tries: 3 });
  const deps = { lookup: resolver.rawLookup, txt: (n: string) => resolver.findTxt(n) };
  const settings = { authservId: 'mx.test', dmarcReject: 'none' as const, temperror: 'accept' as const, dkimMinKeyBits: 1024 };
  const session = { protocol: 'ESMTP', heloName: 'client.test', remoteAddress: '127.0.0.9', mayRelay: false, submission: false };
  const mismatches: string[] = [];
  let passes = 0;
  for (const file of files) {
    const message = Buffer.from(readFileSync(file, 'latin1').replace(/\r?\n/g, '\r\n'), 'latin1');
    const fields = splitMessageBuffer(message).fields.map((f) => ({ name: f.name.toLowerCase(), value: f.value.trim() }));
    const whole = await authenticateInbound(settings, deps, session, null, message, fields);
    const cut = bodyStart(message);
    const run = startInbound(settings, deps, session, null, { fields, complete: true }, message.subarray(0, cut));
    await inPieces(message, cut, (c) => run.body(c));
    const streamed = await run.finish();
    if (streamed.fields.join('\n') !== whole.fields.join('\n')) mismatches.push(`${file}:\n  streamed ${streamed.fields.join(' ')}\n  whole    ${whole.fields.join(' ')}`);
    passes += (whole.fields[0].match(/dkim=pass/g) ?? []).length;
  }
  t.diagnostic(`${files.length} messages, ${passes} passing DKIM signatures`);
  assert.ok(files.length >= 15, `only ${files.length} corpus messages found`);
  // the comparison means something only if signatures were verified, not all skipped
  assert.ok(passes >= 3, `only ${passes} signatures passed`);
  assert.deepEqual(mismatches, []);
});
