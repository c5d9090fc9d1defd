/**
 * t-83 (issue 18): HTTP submission through `correio serve`'s web server (`[http] listen`): a
 * token made by `correio token create --scope submit` posts JSON to /api/v1/messages, gets 202
 * with the queue id, and the message is delivered; a token without the submit scope is refused.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startSite, waitFor, type Site } from '../helpers/site.js';
import { runCli } from '../helpers/cli.js';

let site: Site;
let port = 0;

before(async () => {
  site = await startSite({ domains: ['example.org'], users: ['alice@example.org', 'bob@example.org'], tables: '[http]\nlisten = ["127.0.0.1:0"]\n' });
  port = site.app!.httpAddresses().find((a) => !a.tls)!.port;
});
after(async () => {
  await site.destroy();
});

async function token(scope: string): Promise<string> {
  const made = await runCli(['token', 'create', 'alice@example.org', '--scope', scope, '--config', site.configFile]);
  assert.equal(made.code, 0, made.stderr);
  return made.stdout.trim();
}

void test('a submit token posts a message: 202, delivered; a jmap-only token is refused', async () => {
  const body = JSON.stringify({ from: 'alice@example.org', to: ['bob@example.org'], subject: 'by http', text: 'olá' });
  const ok = await fetch(`http://127.0.0.1:${port}/api/v1/messages`, { method: 'POST', headers: { authorization: `Bearer ${await token('submit')}`, 'content-type': 'application/json' }, body });
  assert.equal(ok.status, 202, await ok.clone().text());
  assert.match(((await ok.json()) as { id: string }).id, /^[0-9a-z]+$/);
  const m = await waitFor('the message', async () => (await site.messages('bob@example.org')).find((x) => x.includes('Subject: by http')));
  assert.match(m, /with HTTPA id/);
  const no = await fetch(`http://127.0.0.1:${port}/api/v1/messages`, { method: 'POST', headers: { authorization: `Bearer ${await token('jmap')}`, 'content-type': 'application/json' }, body });
  assert.equal(no.status, 403);
});
