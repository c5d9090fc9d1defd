/**
 * t-83 (issue 18): HTTP submission through `correio serve`'s web server (`[http] listen`): a
 * token made by `correio token create --scope submit` posts JSON to /api/v1/messages, gets 202
 * with the queue id, and the message is delivered; a token without the submit scope is refused.
 * A child `correio serve` with `http.submission_rate = 3`: a retry with the same Idempotency-Key
 * after the server restarted gets the first answer and sends nothing twice; the fourth request
 * of the minute gets 429.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startSite, startSiteProcess, waitFor, type Site } from '../helpers/site.js';
import { runCli } from '../helpers/cli.js';
import { freePort } from '../helpers/net.js';

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

void test('Idempotency-Key survives a restart (no second message); http.submission_rate gives 429 past it', async () => {
  // picked afresh each time startSiteProcess starts serve over (a port taken meanwhile)
  let httpPort = 0;
  const p = await startSiteProcess({
    domains: ['example.org'],
    users: ['alice@example.org', 'bob@example.org'],
    tables: async () => {
      httpPort = await freePort();
      return `[http]\nlisten = ["127.0.0.1:${httpPort}"]\nsubmission_rate = 3\n`;
    },
  });
  try {
    const made = await runCli(['token', 'create', 'alice@example.org', '--scope', 'submit', '--config', p.configFile]);
    assert.equal(made.code, 0, made.stderr);
    const headers = { authorization: `Bearer ${made.stdout.trim()}`, 'content-type': 'application/json', 'idempotency-key': 'order-4711' };
    const body = JSON.stringify({ from: 'alice@example.org', to: ['bob@example.org'], subject: 'once only', text: 'olá' });
    const post = (): Promise<Response> => fetch(`http://127.0.0.1:${httpPort}/api/v1/messages`, { method: 'POST', headers, body });
    const first = await waitFor('the web server', async () => post().catch(() => undefined));
    assert.equal(first.status, 202, await first.clone().text());
    const { id } = (await first.json()) as { id: string };
    await waitFor('the message', async () => (await p.messages('bob@example.org')).find((x) => x.includes('Subject: once only')));

    await p.stop();
    await p.restart();
    const again = await waitFor('the web server after the restart', async () => post().catch(() => undefined));
    assert.equal(again.status, 202);
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    assert.deepEqual(await again.json(), { id });
    // the same key with another body is refused, not sent
    const other = await fetch(`http://127.0.0.1:${httpPort}/api/v1/messages`, { method: 'POST', headers, body: body.replace('once only', 'changed') });
    assert.equal(other.status, 422);
    // three requests a minute (this process has answered two): the third passes, the fourth waits
    const rated = body.replace('once only', 'rate');
    const third = await fetch(`http://127.0.0.1:${httpPort}/api/v1/messages`, { method: 'POST', headers: { ...headers, 'idempotency-key': 'order-4712' }, body: rated });
    assert.equal(third.status, 202);
    const limited = await fetch(`http://127.0.0.1:${httpPort}/api/v1/messages`, { method: 'POST', headers: { ...headers, 'idempotency-key': 'order-4713' }, body: rated });
    assert.equal(limited.status, 429);
    assert.match(limited.headers.get('retry-after') ?? '', /^\d+$/);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await p.messages('bob@example.org')).filter((x) => x.includes('Subject: once only')).length, 1, 'sent once');
  } finally {
    await p.destroy();
  }
});
