/**
 * t-18: aliases_file (aliases(5) format) is reloaded while the site runs (issue 4). A new alias
 * is in force within seconds of the file changing; a bad line is reported with its line number
 * and the rest of the file still loads; an unreadable file keeps the previous good set in force.
 * The SMTP sessions run in the acceptor process, which reloads the file itself; the errors read
 * here are the server's.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sendMail, startSite, waitFor, type Site } from '../helpers/site.js';

let site: Site;
let aliasesPath: string;

before(async () => {
  site = await startSite({
    host: '127.0.0.2',
    hostname: 'mx.dc.uece.br',
    domains: ['dc.uece.br'],
    users: ['suzana@dc.uece.br', 'pascal@dc.uece.br'],
    top: 'aliases_file = "aliases"\n',
    files: { aliases: '# the department\nvendas: suzana\n' },
  });
  aliasesPath = join(site.dir, 'aliases');
});
after(async () => site?.destroy());

async function rcptReply(rcpt: string): Promise<string> {
  const c = await site.connect('127.0.0.2');
  try {
    await c.readReply();
    await c.command('EHLO client.test');
    await c.command('MAIL FROM:<jacques@elsewhere.test>');
    return (await c.command(`RCPT TO:<${rcpt}>`)) ?? '';
  } finally {
    c.close();
  }
}

async function send(rcpt: string, subject: string): Promise<void> {
  const r = await sendMail(site, 'jacques@elsewhere.test', [rcpt], `Subject: ${subject}\n\ncorpo\n`, { localAddress: '127.0.0.2' });
  assert.match(r.final ?? '', /^250/);
}

void test('the file read at start is in force', async () => {
  assert.deepEqual(site.app?.backends.aliasErrors(), []);
  await send('vendas@dc.uece.br', 'para vendas');
  const [m] = await site.waitForMessages('suzana@dc.uece.br', 1);
  assert.match(m, /^Subject: para vendas$/m);
  assert.match(await rcptReply('suporte@dc.uece.br'), /^550 5\.1\.1 /);
});

void test('a change is in force within seconds; a bad line is reported and the rest loads', async () => {
  await writeFile(
    aliasesPath,
    '# the department\nvendas: suzana\nthis line has no colon\nsuporte: pascal,\n  suzana\n"bad name: pascal\n',
  );
  await waitFor('suporte to be known', async () => /^250/.test(await rcptReply('suporte@dc.uece.br')), 15000);
  // the SMTP acceptor process (`[smtp] processes`, default 2) and the server each watch the
  // file: the server's reload (whose errors are read here) may come a moment after the acceptor's
  await waitFor('the server to report the bad lines', () => (site.app?.backends.aliasErrors() ?? []).length >= 2, 15000);
  const errors = site.app?.backends.aliasErrors() ?? [];
  assert.ok(errors.some((e) => /:3: /.test(e)), `line 3 reported: ${errors.join('; ')}`);
  assert.ok(errors.some((e) => /:6: /.test(e)), `line 6 reported: ${errors.join('; ')}`);
  assert.equal(errors.length, 2, errors.join('; '));

  await send('suporte@dc.uece.br', 'para suporte');
  const [p] = await site.waitForMessages('pascal@dc.uece.br', 1);
  assert.match(p, /^Subject: para suporte$/m);
  // the continuation line counts: suzana is a target too
  await waitFor('suzana to get the suporte copy', async () => (await site.messages('suzana@dc.uece.br')).some((m) => /^Subject: para suporte$/m.test(m)));
  // the good alias from before the change still works
  assert.match(await rcptReply('vendas@dc.uece.br'), /^250/);
});

void test('an alias removed from the file stops working; an unreadable file keeps the previous set', async () => {
  await writeFile(aliasesPath, 'suporte: pascal\n');
  await waitFor('vendas to be gone', async () => /^550/.test(await rcptReply('vendas@dc.uece.br')), 15000);
  await waitFor('the server\'s own reload of the file', () => site.app?.backends.aliasErrors().length === 0, 15000);
  assert.deepEqual(site.app?.backends.aliasErrors(), []);

  // the file disappears (moved away): the previous good set stays in force
  await rename(aliasesPath, `${aliasesPath}.moved`);
  await waitFor('the problem to be reported', () => (site.app?.backends.aliasErrors() ?? []).length > 0, 15000);
  assert.match(await rcptReply('suporte@dc.uece.br'), /^250/);
});
