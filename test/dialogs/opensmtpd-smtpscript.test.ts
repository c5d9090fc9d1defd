/**
 * OpenSMTPD's regress SMTP scripts (../shared/corpora/smtp/opensmtpd-smtpscript/test.*, the
 * `smtpscript` language) run against a whole in-process correio site with a real spool.
 * Every test case is its own subtest and must pass as its script says, except the cases in
 * `deviations`: there OpenSMTPD's verdict is its own policy, not an RFC requirement, and the
 * subtest asserts correio's own answers instead (the script is run in record mode and the
 * replies compared; `also` adds a script showing correio's side of the same rule).
 * The scripts auto-connect to 127.0.0.1 port 25: that is mapped to the site. The site's domains
 * come from the scripts: localhost (gilles, test, root) and foo.bar (test, the 100-message case).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { corporaDir, corporaSkip } from '../helpers/paths.js';
import { startSite, type Site } from '../helpers/site.js';
import { freePort } from '../helpers/net.js';
import { parseSmtpScript, runTestCase, type RunOptions, type Script } from '../helpers/smtpscript.js';

const rel = 'smtp/opensmtpd-smtpscript';
const dir = join(corporaDir, rel);
const skip = corporaSkip(rel);

interface Deviation {
  /** why correio answers otherwise, with the RFC section */
  readonly reason: string;
  /** correio's answers: prefixes of the last replies the script reads ("open" = still connected) */
  readonly correio: readonly string[];
  /** a test-case body (smtpscript) that must pass against correio, showing its side of the rule */
  readonly also?: string;
}

const helo = 'expect smtp ok\n writeln "HELO regress"\n expect smtp helo\n';
const ehlo = 'expect smtp ok\n writeln "EHLO regress"\n expect smtp helo\n';
const badSourceRoute = (verb: 'MAIL FROM' | 'RCPT TO', code: string): Deviation => ({
  reason:
    'a source route is A-d-l = At-domain *( "," At-domain ) ":" (RFC 5321 §4.1.2); "whatever:" is no ' +
    'At-domain and ":" is not atext, so the path is a syntax error. OpenSMTPD drops anything before ":". ' +
    'A real source route is accepted and its route ignored (§4.1.1.3, appendix C).',
  correio: verb === 'MAIL FROM' ? ['220 ', '250 ', code] : ['220 ', '250 ', '250 ', code],
  also:
    verb === 'MAIL FROM'
      ? `${helo} writeln "MAIL FROM: <@relay.example:a@a>"\n expect smtp ok`
      : `${helo} writeln "MAIL FROM: <>"\n expect smtp ok\n writeln "RCPT TO: <@relay.example,@other.example:test@localhost>"\n expect smtp ok`,
});

const deviations: Readonly<Record<string, Deviation>> = {
  'mailfrom.at-sign': {
    reason:
      'Reverse-path = Path / "<>" (RFC 5321 §4.1.2); "<@>" is neither a null path nor a Mailbox. ' +
      'OpenSMTPD takes it as the null sender; correio refuses it as bad sender syntax (501, RFC 3463 5.1.7 after EHLO).',
    correio: ['220 ', '250 ', '501 Bad sender address syntax'],
    also: `${ehlo} writeln "MAIL FROM: <@>"\n expect smtp permfail`,
  },
  'mailfrom.src-route': badSourceRoute('MAIL FROM', '501 Bad sender address syntax'),
  'rcptto.src-route': badSourceRoute('RCPT TO', '501 Bad recipient address syntax'),
  '<test.smtp2:7>': {
    reason:
      'RFC 5321 fixes no number of bad commands before a server may give up (§7.8 lets it protect itself); ' +
      'OpenSMTPD closes silently at the 5th. correio closes after 20 failed commands and, as §3.8 and §4.2.2 ' +
      'ask of a server that closes on its own, says 421 first.',
    // no EHLO: no enhanced status codes (RFC 2034 §3)
    correio: ['220 ', ...Array<string>(5).fill('500 Command unrecognized'), 'open'],
    also:
      'expect smtp ok\n repeat 19 {\n writeln "FOO"\n expect smtp permfail\n }\n writeln "FOO"\n' +
      ' expect smtp permfail\n expect smtp tempfail\n expect disconnect',
  },
  '<test.smtp2:33>': {
    reason:
      'RFC 5321 sets no limit on transactions per session (§4.5.3.1 lists only minimum sizes); the 100 ' +
      'messages per session is OpenSMTPD policy. correio accepts the 101st MAIL.',
    correio: ['250 2.0.0 OK: queued as', '250 2.1.0'],
  },
};

/** test.base checks the script engine itself: this case fails on purpose without `expect fail`. */
const failsOnPurpose: Readonly<Record<string, string>> = {
  '<test.base:14>': 'ahaha! I failed',
};

let site: Site | undefined;
let closedPort = 0;

before(async () => {
  if (skip) return;
  closedPort = await freePort();
  site = await startSite({
    domains: ['localhost', 'foo.bar'],
    users: ['gilles@localhost', 'test@localhost', 'root@localhost', 'test@foo.bar'],
    // nothing here should leave the machine: no resolver but a closed loopback port
    delivery: { dns_servers: [`127.0.0.1:${closedPort}`] },
  });
});
after(async () => {
  await site?.destroy();
});

function runOptions(record = false, timeoutMs = 10_000): RunOptions {
  return {
    record,
    timeoutMs,
    // the scripts speak to "127.0.0.1" / "localhost" port 25: the server under test
    target: (host, port) => (port === 25 ? { host: site!.host, port: site!.port } : { host, port }),
  };
}

function scriptFiles(): string[] {
  return existsSync(dir) ? readdirSync(dir).filter((n) => n.startsWith('test.')).sort() : ['(none)'];
}

for (const file of scriptFiles()) {
  void test(`smtpscript ${file}`, { skip }, async (t) => {
    const script: Script = parseSmtpScript(readFileSync(join(dir, file), 'utf8'), file);
    assert.ok(script.cases.length > 0, `${file}: no test cases parsed`);
    for (const tc of script.cases) {
      const dev = deviations[tc.name];
      if (tc.skip) {
        await t.test(tc.name, { skip: `${file} marks this case "skip"` }, () => undefined);
        continue;
      }
      await t.test(tc.name, async () => {
        if (failsOnPurpose[tc.name] !== undefined) {
          const r = await runTestCase(script, tc, runOptions());
          assert.equal(r.verdict, 'fail', r.transcript.join('\n'));
          assert.equal(r.reason, failsOnPurpose[tc.name]);
          return;
        }
        if (dev === undefined) {
          const r = await runTestCase(script, tc, runOptions());
          if (r.verdict === 'skip') return t.skip(r.reason);
          assert.equal(r.verdict, 'pass', `${r.reason ?? ''}\n${r.transcript.join('\n')}`);
          return;
        }
        // a deviation: correio's own answers, in record mode
        const r = await runTestCase(script, tc, runOptions(true, 1000));
        assert.equal(r.outcome, 'ok', `${r.reason ?? ''}\n${r.transcript.join('\n')}`);
        const tail = r.replies.slice(-dev.correio.length);
        assert.equal(tail.length, dev.correio.length, r.transcript.join('\n'));
        dev.correio.forEach((want, i) =>
          assert.ok(tail[i].startsWith(want), `reply ${i}: wanted "${want}…", got "${tail[i]}"\n${r.transcript.join('\n')}`),
        );
        // the script's own verdict must really differ, or the entry is stale
        const strict = await runTestCase(script, tc, runOptions(false, 1000));
        assert.notEqual(strict.verdict, 'pass', `${tc.name} now passes as scripted: remove it from deviations`);
        if (dev.also !== undefined) {
          const also = parseSmtpScript(`test-case name "${tc.name} (correio)" {\n ${dev.also}\n}\n`, `${file}+correio`);
          const a = await runTestCase(also, also.cases[0], runOptions());
          assert.equal(a.verdict, 'pass', `${a.reason ?? ''}\n${a.transcript.join('\n')}`);
        }
      });
    }
  });
}

void test('every deviation names a case that exists', { skip }, () => {
  const names = new Set<string>();
  for (const file of scriptFiles()) {
    for (const tc of parseSmtpScript(readFileSync(join(dir, file), 'utf8'), file).cases) names.add(tc.name);
  }
  for (const name of [...Object.keys(deviations), ...Object.keys(failsOnPurpose)]) assert.ok(names.has(name), name);
});

void test('the smtpscript lexer drops a newline inside a quoted string, as OpenSMTPD\'s does', () => {
  const s = parseSmtpScript('test-case name "x" {\n\twriteln "RCPT TO: <gilles\n@localhost>"\n}\n', 'inline');
  const body = s.cases[0].body;
  assert.equal(body.kind, 'block');
  assert.deepEqual(body.kind === 'block' ? body.steps[0] : undefined, { kind: 'write', data: 'RCPT TO: <gilles@localhost>\r\n' });
});
