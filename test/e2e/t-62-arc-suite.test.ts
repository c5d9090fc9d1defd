/**
 * t-62: ValiMail's ARC validation suite (`../shared/corpora/auth/arc/arc-draft-validation-tests.yml`,
 * 171 cases, RFC 8617 §5.2): each document's TXT records are served by a real DNS server, every
 * message goes through correio's inbound check (policy/trust authenticateInbound, as on the MX
 * port), and the `arc=` result in our Authentication-Results field (none when absent) must be
 * the suite's `cv`. Read with Python's PyYAML; skipped with a message without it or the corpus.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { startDnsServer, type DnsTestServer } from '../helpers/dns-server.js';
import { DnsResolver } from '../../src/dns/index.js';
import { authenticateInbound } from '../../src/policy/index.js';
import { loadYamlDocuments } from '../helpers/python.js';

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
