/**
 * The admin API over a real socket (@hono/node-server on an ephemeral port), on a real site:
 * SQLite directory, the files spool with mail put there by the real `correio sendmail`, the
 * offline QueueControl (a server's own is the same interface), the app's resolver and checks.
 * Also: every route is in the OpenAPI document and every documented path is served.
 */
import { MinuteCounts } from '../log/index.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { serve, type ServerType } from '@hono/node-server';
import { Hono, type MiddlewareHandler } from 'hono';
import { loadConfig } from '../config/index.js';
import { openDirectory } from '../directory/index.js';
import { MailboxQuota, MaildirStore } from '../mailbox/index.js';
import { FsQueueStore, StoreQueueControl } from '../queue/index.js';
import { dkimKeysOf, makeResolver, runChecks } from '../app/index.js';
import { makeSite, type Site } from '../../test/e2e/queue-cli-harness.js';
import { ADMIN_API_BASE, adminApi, type AdminApiDeps } from './admin-api.js';
import { adminOpenApi } from './admin-openapi.js';

const TOKEN = 'test-admin-token';
const bearerOnly: MiddlewareHandler = async (c, next) => {
  const h = c.req.header('authorization');
  if (h === undefined) return c.json({ error: 'authentication required' }, 401);
  if (h !== `Bearer ${TOKEN}`) return c.json({ error: 'admin scope required' }, 403);
  await next();
};

interface Api {
  call(method: string, path: string, body?: unknown, auth?: string): Promise<{ status: number; json: unknown; headers: Headers }>;
  deps: AdminApiDeps;
  close(): Promise<void>;
}

async function startApi(site: Site): Promise<Api> {
  const config = loadConfig({ path: site.configFile });
  const directory = await openDirectory(config);
  const store = await FsQueueStore.open(join(site.dataDir, 'spool'), { recover: 'never', lock: false });
  const log = ['line one', 'line two', 'line three'];
  const deps: AdminApiDeps = {
    directory,
    queue: store,
    control: new StoreQueueControl(store),
    config: () => config,
    explain: async (a) => (await makeResolver(directory, config)).resolver.explain(a),
    checkConfig: () => runChecks({ config, directory }),
    dkim: dkimKeysOf(() => config),
    logTail: (n) => log.slice(-n),
    activity: (n) => new MinuteCounts().series(Date.UTC(2026, 11, 5, 12, 0), n).map((m, i) => ({ ...m, received: i })),
    authorize: bearerOnly,
    quota: new MailboxQuota({ directory, mailboxes: new MaildirStore(join(site.dataDir, 'mail')), defaults: () => config.quota }),
  };
  const app = new Hono().route(ADMIN_API_BASE, adminApi(deps));
  const server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s));
  });
  const { port } = server.address() as { port: number };
  return {
    deps,
    async call(method, path, body, auth = `Bearer ${TOKEN}`) {
      const res = await fetch(`http://127.0.0.1:${port}${ADMIN_API_BASE}${path}`, {
        method,
        headers: { ...(auth ? { authorization: auth } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      });
      return { status: res.status, json: await res.json(), headers: res.headers };
    },
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await store.close();
      await directory.close();
    },
  };
}

async function withApi(fn: (api: Api, site: Site) => Promise<void>): Promise<void> {
  const site = await makeSite();
  try {
    const api = await startApi(site);
    try {
      await fn(api, site);
    } finally {
      await api.close();
    }
  } finally {
    await site.cleanup();
  }
}

void test('admin API: only admins get in', () =>
  withApi(async (api) => {
    assert.equal((await api.call('GET', '/users', undefined, '')).status, 401);
    assert.equal((await api.call('GET', '/users', undefined, 'Bearer wrong')).status, 403);
    assert.equal((await api.call('GET', '/users')).status, 200);
    const none = await api.call('GET', '/nothing-here');
    assert.equal(none.status, 404);
    assert.match((none.json as { error: string }).error, /no such endpoint/);
  }));

void test('admin API: a user\'s quota (set, shown with usage, back to the default, bad values 400) and disable/enable', () =>
  withApi(async (api) => {
    assert.equal((await api.call('POST', '/users', { address: 'ana@example.org', password: 's3cret' })).status, 201);
    const path = `/users/${encodeURIComponent('ana@example.org')}`;
    let r = await api.call('PUT', `${path}/quota`, { storage: '2MB', messages: 100 });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.deepEqual(r.json, {
      address: 'ana@example.org', own: { storage: 2 * 1024 ** 2, messages: 100 }, default: { storage: 0, messages: 0 },
      limit: { storage: 2 * 1024 ** 2, messages: 100 }, usage: { storage: 0, messages: 0 },
    });
    r = await api.call('PUT', `${path}/quota`, { storage: null });
    assert.deepEqual((r.json as { own: unknown }).own, { storage: null, messages: 100 });
    assert.deepEqual((await api.call('GET', `${path}/quota`)).json, (r.json as object));
    r = await api.call('PUT', `${path}/quota`, { storage: 'lots' });
    assert.deepEqual([r.status, r.json], [400, { error: 'invalid storage quota "lots": expected a size such as "500MB" or "2GB" (0 or "none": no limit; "default")' }]);
    assert.equal((await api.call('PUT', `${path}/quota`, {})).status, 400);
    assert.equal((await api.call('PUT', `/users/${encodeURIComponent('ghost@example.org')}/quota`, { messages: 1 })).status, 404);

    r = await api.call('POST', `${path}/disable`);
    assert.deepEqual([r.status, r.json], [200, { address: 'ana@example.org', disabled: true }]);
    assert.equal(await api.deps.directory.verifyPassword('ana@example.org', 's3cret'), false);
    assert.equal(((await api.call('GET', path)).json as { disabled: boolean }).disabled, true);
    r = await api.call('POST', `${path}/enable`);
    assert.deepEqual([r.status, r.json], [200, { address: 'ana@example.org', disabled: false }]);
    assert.equal(await api.deps.directory.verifyPassword('ana@example.org', 's3cret'), true);
    assert.equal((await api.call('POST', `/users/${encodeURIComponent('ghost@example.org')}/disable`)).status, 404);
  }));

void test('admin API: users, aliases, lists, roles through the CLI\'s rules; the CLI sees the changes', () =>
  withApi(async (api, site) => {
    let r = await api.call('POST', '/users', { address: 'Suzana@Example.org', password: 's3cret', name: 'Suzana' });
    assert.equal(r.status, 201);
    assert.equal((r.json as { address: string }).address, 'Suzana@example.org');
    assert.equal(await api.deps.directory.verifyPassword('Suzana@example.org', 's3cret'), true);
    r = await api.call('PUT', `/users/${encodeURIComponent('Suzana@example.org')}/password`, { password: 'n3w' });
    assert.equal(r.status, 200);
    assert.equal(await api.deps.directory.verifyPassword('Suzana@example.org', 'n3w'), true);
    // the same refusal, in the same words, as `correio user add`
    r = await api.call('POST', '/users', { address: 'no-domain' });
    assert.deepEqual([r.status, r.json], [400, { error: 'invalid address "no-domain": expected local-part@domain' }]);
    const cli = await site.run(['user', 'add', 'no-domain']);
    assert.equal(cli.code, 65);
    assert.equal(cli.stderr.trim(), 'correio: invalid address "no-domain": expected local-part@domain');
    r = await api.call('POST', '/users', { password: 'x' });
    assert.deepEqual([r.status, r.json], [400, { error: '"address" must be a string' }]);
    r = await api.call('POST', '/users', '{not json');
    assert.equal(r.status, 400);

    r = await api.call('PUT', '/aliases/info', { targets: ['Suzana@example.org'] });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, [{ name: 'info@example.org', targets: ['Suzana@example.org'], source: 'directory' }]);
    r = await api.call('PUT', '/aliases/bad', { targets: ['|'] });
    assert.equal(r.status, 400);

    r = await api.call('POST', '/lists', { address: 'staff@example.org', owner: 'Suzana@example.org' });
    assert.equal(r.status, 201);
    r = await api.call('POST', '/lists', { address: 'staff@elsewhere.test', owner: 'Suzana@example.org' });
    assert.deepEqual([r.status, r.json], [400, { error: 'elsewhere.test is not a local domain' }]);
    r = await api.call('POST', '/lists/staff@example.org/members', { members: ['a@remote.test', 'b@remote.test'] });
    assert.deepEqual((r.json as { members: string[] }).members, ['a@remote.test', 'b@remote.test']);
    r = await api.call('POST', '/lists/staff@example.org/members', { members: ['|/bin/sh'] });
    assert.equal(r.status, 400);
    r = await api.call('DELETE', '/lists/staff@example.org/members/a@remote.test');
    assert.deepEqual((r.json as { members: string[] }).members, ['b@remote.test']);
    r = await api.call('DELETE', '/lists/staff@example.org/members/zz@remote.test');
    assert.deepEqual([r.status, r.json], [404, { error: 'staff@example.org: not members: zz@remote.test' }]);

    r = await api.call('PUT', '/roles/chefe@example.org', { holder: 'Suzana@example.org', description: 'head' });
    assert.deepEqual(r.json, { address: 'chefe@example.org', holder: 'Suzana@example.org', description: 'head' });
    assert.equal((await api.call('DELETE', '/roles/nobody@example.org')).status, 404);

    // what the API did, the CLI shows
    const shown = await site.run(['list', 'show', 'staff@example.org', '--json']);
    assert.equal(shown.code, 0, shown.stderr);
    assert.deepEqual((JSON.parse(shown.stdout) as { members: string[] }[])[0].members, ['b@remote.test']);
    const roles = await site.run(['role', 'list']);
    assert.match(roles.stdout, /chefe@example\.org\tSuzana@example\.org\thead/);

    r = await api.call('GET', '/resolve/info@example.org');
    assert.equal(r.status, 200);
    const targets = (r.json as { targets: { kind: string; address: string }[] }).targets;
    assert.deepEqual(targets.map((t) => [t.kind, t.address]), [['mailbox', 'Suzana@example.org']]);
    r = await api.call('GET', '/resolve/not an address');
    assert.equal(r.status, 400);

    assert.equal((await api.call('DELETE', `/users/${encodeURIComponent('Suzana@example.org')}`)).status, 200);
    assert.equal((await api.call('DELETE', `/users/${encodeURIComponent('Suzana@example.org')}`)).status, 404);
    r = await api.call('GET', '/check');
    assert.equal(r.status, 200);
    // the role and alias now lead to a deleted user: the same warnings `correio check` prints
    const findings = (r.json as { findings: { level: string; message: string }[] }).findings;
    const cliCheck = await site.run(['check']);
    for (const f of findings) assert.ok(cliCheck.stdout.includes(`${f.level}: ${f.message}`), `${f.message} not in ${cliCheck.stdout}`);
    assert.ok(findings.length > 0);
  }));

void test('admin API: the queue listed, filtered, traced, held, released, flushed, bounced, deleted', () =>
  withApi(async (api, site) => {
    for (const rcpt of ['bob@remote.test', 'carol@remote.test']) {
      const s = await site.run(['sendmail', '-f', 'jacques@example.org', rcpt], { stdin: `Subject: to ${rcpt}\n\nhello\n` });
      assert.equal(s.code, 0, s.stderr);
    }
    let r = await api.call('GET', '/queue');
    const queue = r.json as { id: string; recipients: { recipient: string; state: string }[] }[];
    assert.equal(queue.length, 2);
    r = await api.call('GET', '/queue?recipient=CAROL');
    const carol = (r.json as { id: string }[]).map((m) => m.id);
    assert.equal(carol.length, 1);
    const bobId = queue.find((m) => m.recipients[0].recipient === 'bob@remote.test')!.id;
    assert.equal((await api.call('GET', '/queue?state=nonsense')).status, 400);
    // pages: oldest first, the next page's since in a header, the last page without one
    r = await api.call('GET', '/queue?limit=1');
    assert.deepEqual((r.json as { id: string }[]).map((m) => m.id), [queue[0].id]);
    const next = r.headers.get('correio-next-since');
    assert.equal(next, queue[0].id);
    r = await api.call('GET', `/queue?limit=5&since=${next}`);
    assert.deepEqual((r.json as { id: string }[]).map((m) => m.id), [queue[1].id]);
    assert.equal(r.headers.get('correio-next-since'), null);
    r = await api.call('GET', '/queue?limit=0');
    assert.equal(r.status, 400);
    assert.match((r.json as { error: string }).error, /limit/);
    r = await api.call('GET', '/queue?since=yesterday');
    assert.equal(r.status, 400);
    assert.match((r.json as { error: string }).error, /since/);

    r = await api.call('POST', `/queue/${bobId}/hold`);
    assert.deepEqual(r.json, { id: bobId, action: 'hold', count: 1 });
    r = await api.call('GET', '/queue?state=held');
    assert.deepEqual((r.json as { id: string }[]).map((m) => m.id), [bobId]);
    r = await api.call('GET', '/queue/summary');
    assert.equal((r.json as { envelopes: { held: number } }).envelopes.held, 1);
    r = await api.call('POST', '/queue/flush');
    assert.equal((r.json as { count: number }).count, 1); // carol's; the held one stays held
    r = await api.call('POST', '/queue/actions', { action: 'release', ids: [bobId, 'no-such-id'] });
    assert.deepEqual(r.json, { action: 'release', results: [{ id: bobId, count: 1 }, { id: 'no-such-id', error: 'no such message: no-such-id' }] });

    r = await api.call('GET', `/queue/${bobId}/trace`);
    const trace = r.json as { id: string; received: string; recipients: { chain: string[]; route: string }[] };
    assert.equal(trace.id, bobId);
    assert.match(trace.received, /mx\.test/);
    assert.deepEqual(trace.recipients[0].chain, ['bob@remote.test']);
    // the trace is the one `correio trace` prints
    const cliTrace = await site.run(['trace', bobId]);
    assert.ok(cliTrace.stdout.includes(`resolved: bob@remote.test => ${trace.recipients[0].route}`), cliTrace.stdout);

    r = await api.call('GET', `/queue/${bobId}`);
    assert.equal((r.json as { recipients: { attempts: unknown[] }[] }).recipients[0].attempts.length, 0);
    assert.equal((await api.call('POST', `/queue/${bobId}/explode`)).status, 404);
    assert.equal((await api.call('POST', '/queue/nope/hold')).status, 404);
    r = await api.call('POST', '/queue/actions', { action: 'delete', ids: [bobId, ...carol] });
    assert.deepEqual((r.json as { results: { count: number }[] }).results.map((x) => x.count), [1, 1]);
    assert.deepEqual((await api.call('GET', '/queue')).json, []);
    // gone from the queue, still traced from the delivery history (issue 13)
    const gone = (await api.call('GET', `/queue/${bobId}/trace`)).json as { fromHistory?: boolean; recipients: { recipient: string }[] };
    assert.equal(gone.fromHistory, true);
    assert.deepEqual(gone.recipients.map((x) => x.recipient), ['bob@remote.test']);
    const cliList = await site.run(['queue', 'list', '--json']);
    assert.equal(cliList.stdout.trim(), '[]');
  }));

void test('admin API: DNS records and DKIM keys as `correio dns records` gives them; the log tail', () =>
  withApi(async (api, site) => {
    const k = await site.run(['dkim', 'keygen', 'example.org', '--selector', 'sel1', '--algorithm', 'ed25519']);
    assert.equal(k.code, 0, k.stderr);
    const r = await api.call('GET', '/domains/example.org/dns');
    const records = r.json as { zone: string }[];
    const cli = await site.run(['dns', 'records', 'example.org']);
    for (const rec of records) assert.ok(cli.stdout.includes(rec.zone), `${rec.zone} missing from ${cli.stdout}`);
    const dkim = (await api.call('GET', '/domains/example.org/dkim')).json as { selector: string; value: string }[];
    assert.deepEqual(dkim.map((d) => d.selector), ['sel1']);
    assert.match(dkim[0].value, /^v=DKIM1; k=ed25519; p=/);
    const made = await api.call('POST', '/domains/example.org/dkim', { selector: 'sel2', algorithm: 'ed25519' });
    assert.equal(made.status, 201, JSON.stringify(made.json));
    const m = made.json as { name: string; value: string; zone: string };
    assert.equal(m.name, 'sel2._domainkey.example.org');
    assert.match(m.value, /^v=DKIM1; k=ed25519; p=[A-Za-z0-9+/]{43}=$/);
    const listed = (await api.call('GET', '/domains/example.org/dkim')).json as { selector: string; value: string }[];
    assert.deepEqual(listed.map((d) => d.selector).sort(), ['sel1', 'sel2'], 'the new key is listed as the CLI would list it');
    assert.equal(listed.find((d) => d.selector === 'sel2')?.value, m.value);
    const again = await api.call('POST', '/domains/example.org/dkim', { selector: 'sel2' });
    assert.equal(again.status, 400);
    assert.match(JSON.stringify(again.json), /exists already/);
    assert.doesNotMatch(JSON.stringify(again.json), /\//, 'no path on disk in the answer');
    assert.equal((await api.call('POST', '/domains/example.org/dkim', { algorithm: 'dsa' })).status, 400);
    assert.equal((await api.call('POST', '/domains/elsewhere.test/dkim', {})).status, 404);
    assert.equal((await api.call('GET', '/domains/elsewhere.test/dns')).status, 404);
    assert.deepEqual((await api.call('GET', '/log?lines=2')).json, ['line two', 'line three']);
    assert.equal((await api.call('GET', '/log?lines=0')).status, 400);
    const minutes = (await api.call('GET', '/activity?minutes=3')).json as { minute: string; received: number }[];
    assert.deepEqual(minutes.map((m) => [m.minute, m.received]), [['2026-12-05T11:58:00.000Z', 0], ['2026-12-05T11:59:00.000Z', 1], ['2026-12-05T12:00:00.000Z', 2]]);
    assert.equal(((await api.call('GET', '/activity')).json as unknown[]).length, 60);
    assert.equal((await api.call('GET', '/activity?minutes=61')).status, 400);
  }));

void test('admin API: every route is in openapi.json and every documented operation is served', () =>
  withApi(async (api) => {
    const app = adminApi(api.deps);
    const served = new Set(
      app.routes.filter((r) => r.method !== 'ALL').map((r) => `${r.method.toLowerCase()} ${r.path.replace(/:(\w+)/g, '{$1}')}`),
    );
    const doc = (await api.call('GET', '/openapi.json')).json as { openapi: string; paths: Record<string, Record<string, unknown>> };
    assert.equal(doc.openapi, '3.1.0');
    assert.deepEqual(doc, JSON.parse(JSON.stringify(adminOpenApi)));
    const documented = new Set(Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m} ${p}`)));
    assert.deepEqual([...served].filter((x) => !documented.has(x)), [], 'served but not documented');
    assert.deepEqual([...documented].filter((x) => !served.has(x)), [], 'documented but not served');
  }));
