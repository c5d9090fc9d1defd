/**
 * Issue 12 item 4 at the resolver: which file and pipe targets an expansion yields, by where they
 * were written (aliases or include files), whether the include file is safe (owner, mode), and
 * as whom they run. Include files are given (owner and mode included) by an injected reader, so
 * this runs as any user; t-19 repeats it with real files as root.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatReply, routeKey, targetRoute, type ResolvedRecipient, type Trace } from '../core/index.js';
import { MemoryDirectory } from '../../test/helpers/memory-directory.js';
import { AliasResolver, type IncludeFile, type TargetPolicy } from './index.js';

const trace: Trace = { sender: { local: 'x', domain: 'remote.example' } };
const SERVER = 1000;

const files: Record<string, IncludeFile> = {
  // the review's reproduction: owned by nobody, writable by all
  '/inc/evil': { text: '/root/secret\n|/usr/bin/touch /tmp/pwned\nana@dc.uece.br\n:include:/inc/root\n', uid: 65534, gid: 65534, mode: 0o100666 },
  '/inc/nobody-0644': { text: '|/bin/true\n', uid: 65534, gid: 65534, mode: 0o100644 },
  '/inc/group-writable': { text: '|/bin/true\n', uid: 0, gid: 0, mode: 0o100664 },
  '/inc/root': { text: '|/usr/bin/archiver -q\n/var/mail/archive\n', uid: 0, gid: 0, mode: 0o100644 },
  '/inc/server': { text: '|/usr/bin/archiver -q\n', uid: SERVER, gid: 1001, mode: 0o100600 },
};

async function resolver(policy: Partial<TargetPolicy> = {}, dir = new MemoryDirectory({ domains: ['dc.uece.br'], users: ['ana@dc.uece.br'] })): Promise<AliasResolver> {
  for (const name of Object.keys(files)) await dir.setAlias(`${name.slice('/inc/'.length)}@dc.uece.br`, [`:include:${name}`]);
  await dir.setAlias('bot@dc.uece.br', ['|/usr/bin/robot', '/var/mail/bot']);
  return new AliasResolver({
    directory: dir,
    readInclude: async (path) => {
      const f = files[path];
      if (!f) throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
      return f;
    },
    targetPolicy: { trustedUids: [0, SERVER], ...policy },
  });
}

function show(ts: readonly ResolvedRecipient[]): string[] {
  return ts.map((t) => (t.kind === 'error' ? `error:${formatReply(t.reply)}` : routeKey(targetRoute(t))));
}

const refused = 'error:550 5.7.1 Delivery not authorized, message refused';

void test('an include file owned by another user, or group/world-writable, drives no file or pipe', async () => {
  const r = await resolver();
  // its addresses still count; its file and pipe are refused; an include it names is unsafe too
  assert.deepEqual(show(await r.resolve({ local: 'evil', domain: 'dc.uece.br' }, trace)), [refused, 'local:ana@dc.uece.br']);
  const { tree } = await r.explain('evil@dc.uece.br');
  const inc = tree.children[0];
  assert.match(inc.note ?? '', /unsafe: include file \/inc\/evil is owned by uid 65534/);
  assert.deepEqual(inc.children.map((c) => [c.name, c.kind]), [
    ['/root/secret', 'error'],
    ['|/usr/bin/touch /tmp/pwned', 'error'],
    ['ana@dc.uece.br', 'mailbox'],
    [':include:/inc/root', 'include'],
  ]);
  assert.match(inc.children[3].note ?? '', /named by unsafe include file \/inc\/evil/);
  assert.ok(inc.children[3].children.every((c) => c.kind === 'error'));

  assert.deepEqual(show(await r.resolve({ local: 'nobody-0644', domain: 'dc.uece.br' }, trace)), [refused]);
  const gw = await r.explain('group-writable@dc.uece.br');
  assert.match(gw.tree.children[0].note ?? '', /group- or world-writable \(mode 0664\)/);
  assert.deepEqual(show(gw.targets), [refused]);
});

void test('a safe include file: root-owned runs as 65534, the server user\'s as itself; never root', async () => {
  const r = await resolver();
  assert.deepEqual(show(await r.resolve({ local: 'root', domain: 'dc.uece.br' }, trace)), [
    'pipe:{"command":["/usr/bin/archiver","-q"],"uid":65534,"gid":65534}',
    'file:{"path":"/var/mail/archive","uid":65534,"gid":65534}',
  ]);
  assert.deepEqual(show(await r.resolve({ local: 'server', domain: 'dc.uece.br' }, trace)), [
    'pipe:{"command":["/usr/bin/archiver","-q"],"uid":1000,"gid":1001}',
  ]);
  // the operator's aliases keep the transports' own defaults (no identity in the route)
  assert.deepEqual(show(await r.resolve({ local: 'bot', domain: 'dc.uece.br' }, trace)), ['pipe:["/usr/bin/robot"]', 'file:/var/mail/bot']);
});

void test('allow_mail_to_files / allow_mail_to_commands decide by class', async () => {
  const noInclude = await resolver({ allowMailToCommands: ['alias'], allowMailToFiles: ['alias'] });
  assert.deepEqual(show(await noInclude.resolve({ local: 'root', domain: 'dc.uece.br' }, trace)), [refused]);
  const { tree } = await noInclude.explain('root@dc.uece.br');
  assert.match(tree.children[0].children[0].note ?? '', /pipe targets from include files are not allowed \(delivery\.allow_mail_to_commands\)/);
  assert.match(tree.children[0].children[1].note ?? '', /file targets from include files are not allowed \(delivery\.allow_mail_to_files\)/);
  assert.deepEqual(show(await noInclude.resolve({ local: 'bot', domain: 'dc.uece.br' }, trace)), ['pipe:["/usr/bin/robot"]', 'file:/var/mail/bot']);

  const none = await resolver({ allowMailToCommands: [], allowMailToFiles: ['alias', 'include'] });
  assert.deepEqual(show(await none.resolve({ local: 'bot', domain: 'dc.uece.br' }, trace)), [refused, 'file:/var/mail/bot']);
});

void test('correio check (findDangling) names unsafe include files that hold files or pipes, and list members that are not addresses', async () => {
  const dir = new MemoryDirectory({ domains: ['dc.uece.br'], users: ['ana@dc.uece.br'] });
  const r = await resolver({}, dir);
  dir.seedList({ address: 'staff@dc.uece.br', owner: 'ana@dc.uece.br', members: ['ana@dc.uece.br', '|/usr/bin/touch@dc.uece.br'] });
  const found = (await r.findDangling(dir)).map((d) => `${d.name} ${d.target}: ${d.reason}`);
  assert.ok(found.some((f) => f.startsWith('evil@dc.uece.br :include:/inc/evil: include file /inc/evil is owned by uid 65534') && f.endsWith('its file and pipe targets are refused')), found.join('\n'));
  assert.ok(found.some((f) => /^group-writable@dc\.uece\.br .*group- or world-writable/.test(f)), found.join('\n'));
  assert.ok(!found.some((f) => f.startsWith('root@')), 'a safe include file is not reported');
  assert.ok(found.includes('staff@dc.uece.br |/usr/bin/touch@dc.uece.br: not a list member: a "|command" is not a list member (members are addresses)'), found.join('\n'));
});
