import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseForwardPath, parseMailbox } from '../address/index.js';
import { formatReply, MailError, routeKey, type Address, type Alias, type ResolvedRecipient, type Trace } from '../core/index.js';
import { MemoryDirectory } from '../../test/helpers/memory-directory.js';
import { AliasResolver, findCycles, splitCommand, type AliasResolverOptions } from './index.js';

// relay rights are the SMTP policy's (policy/ relay-control): the resolver answers the same for both
const trusted: Trace = { sender: null };
const stranger: Trace = { sender: { local: 'x', domain: 'remote.example' } };

/** One line per target, easy to compare in tables. */
function show(targets: readonly ResolvedRecipient[]): string[] {
  return targets.map((t) => {
    switch (t.kind) {
      case 'mailbox':
        return `mailbox:${t.user}${t.detail !== undefined ? `+${t.detail}` : ''}`;
      case 'remote':
        return `remote:${t.address.local}@${t.address.domain}${t.route ? ` via ${routeKey(t.route)}` : ''}`;
      case 'pipe':
        return `pipe:${JSON.stringify(t.command)}`;
      case 'file':
        return `file:${t.path}`;
      case 'list':
        return `list:${t.list} owner=${t.owner} members=${t.members.join(',')}`;
      case 'webhook':
        return `webhook:${t.url}`;
      case 'error':
        return `error:${formatReply(t.reply)}`;
    }
  });
}

async function fixture(opts: Partial<AliasResolverOptions> = {}): Promise<{ dir: MemoryDirectory; resolver: AliasResolver; tmp: string }> {
  const tmp = await mkdtemp(join(tmpdir(), 'correio-resolve-'));
  const dir = new MemoryDirectory({
    domains: ['dc.uece.br', 'example.org'],
    users: ['suzana@dc.uece.br', 'ana@dc.uece.br', 'bia@dc.uece.br', 'bob@dc.uece.br', 'ana@example.org', 'postmaster@dc.uece.br'],
  });
  await writeFile(join(tmp, 'members'), '# the team\nana\nbia, carla@remote.example\n');
  await writeFile(join(tmp, 'self'), `ana\n:include:${join(tmp, 'self')}\n`);
  await writeFile(join(tmp, 'hooks'), 'webhook:http://127.0.0.1:9/admin\nana\n');
  const aliases: [string, string[]][] = [
    ['staff@dc.uece.br', ['ana', 'bia', 'carla@remote.example']],
    ['webmaster@dc.uece.br', ['suzana']],
    ['abuse@dc.uece.br', ['suzana@dc.uece.br']],
    ['team@dc.uece.br', ['staff', 'dora@remote.example', 'ana']],
    ['bob@dc.uece.br', ['bob', 'bob@remote.example']],
    ['ana2@dc.uece.br', ['\\ana']],
    ['a@dc.uece.br', ['b']],
    ['b@dc.uece.br', ['a']],
    ['c@dc.uece.br', ['d']],
    ['d@dc.uece.br', ['c', 'x@remote.example']],
    ['inc@dc.uece.br', [`:include:${join(tmp, 'members')}`]],
    ['noinc@dc.uece.br', [`:include:${join(tmp, 'missing')}`]],
    ['selfinc@dc.uece.br', [`:include:${join(tmp, 'self')}`]],
    ['bot@dc.uece.br', ["|/usr/bin/robot -v 'a b'"]],
    ['archive@dc.uece.br', ['/var/mail/archive', 'suzana']],
    ['gone@dc.uece.br', ['error:5.1.6 moved to elsewhere']],
    ['busy@dc.uece.br', ['error:4.2.1 try later']],
    ['broken@dc.uece.br', ['ana maria']],
    ['dangling@dc.uece.br', ['nobody']],
    ['@example.org', ['suzana@dc.uece.br']],
    ['out@dc.uece.br', ['someone@routed.example']],
    ['hook@dc.uece.br', ['webhook:https://app.example/mail', 'suzana']],
    ['badhook@dc.uece.br', ['webhook:http://192.0.2.1/mail']],
    ['inchook@dc.uece.br', [`:include:${join(tmp, 'hooks')}`]],
  ];
  for (const [n, t] of aliases) await dir.setAlias(n, t);
  await dir.setRole('chefe-de-departamento@dc.uece.br', 'suzana@dc.uece.br', 'head of department');
  await dir.createList('lista@dc.uece.br', 'suzana@dc.uece.br');
  await dir.addListMembers('lista@dc.uece.br', ['ana@dc.uece.br', 'carla@remote.example', 'lista@dc.uece.br']);
  const fileMap = new Map<string, Alias>([
    ['root', { name: 'root', targets: ['suzana@dc.uece.br'], source: '/etc/aliases' }],
    ['info', { name: 'info', targets: ['ana'], source: '/etc/aliases' }],
    ['webmaster', { name: 'webmaster', targets: ['bia'], source: '/etc/aliases' }],
  ]);
  const resolver = new AliasResolver({
    directory: dir,
    aliasesFromFile: () => fileMap,
    routes: { 'routed.example': { transport: 'smtp', nextHop: '[127.0.0.1]:2526' } },
    ...opts,
  });
  return { dir, resolver, tmp };
}

function addr(s: string): Address {
  return s.toLowerCase() === 'postmaster' ? { local: 'postmaster', domain: '' } : parseMailbox(s, { smtpUtf8: true });
}

// [what, recipient, trace, expected targets]
const table: [string, string, Trace, string[]][] = [
  ['a user', 'suzana@dc.uece.br', stranger, ['mailbox:suzana@dc.uece.br']],
  ['case folding of domain and local part', 'Suzana@DC.UECE.BR', stranger, ['mailbox:suzana@dc.uece.br']],
  ['one-to-many', 'staff@dc.uece.br', stranger, ['mailbox:ana@dc.uece.br', 'mailbox:bia@dc.uece.br', 'remote:carla@remote.example']],
  ['many-to-one (1)', 'webmaster@dc.uece.br', stranger, ['mailbox:suzana@dc.uece.br']],
  ['many-to-one (2)', 'abuse@dc.uece.br', stranger, ['mailbox:suzana@dc.uece.br']],
  ['nested, duplicates removed', 'team@dc.uece.br', stranger, ['mailbox:ana@dc.uece.br', 'mailbox:bia@dc.uece.br', 'remote:carla@remote.example', 'remote:dora@remote.example']],
  ['self-reference delivers to the own mailbox', 'bob@dc.uece.br', stranger, ['mailbox:bob@dc.uece.br', 'remote:bob@remote.example']],
  ['backslash: mailbox only', 'ana2@dc.uece.br', stranger, ['mailbox:ana@dc.uece.br']],
  ['cycle without mailbox: 5.4.6', 'a@dc.uece.br', stranger, ['error:554 5.4.6 Mail loop detected']],
  ['cycle with another way out: only the way out', 'c@dc.uece.br', stranger, ['remote:x@remote.example']],
  ['include file', 'inc@dc.uece.br', stranger, ['mailbox:ana@dc.uece.br', 'mailbox:bia@dc.uece.br', 'remote:carla@remote.example']],
  ['missing include file', 'noinc@dc.uece.br', stranger, ['error:550 5.2.4 Mailing list expansion problem']],
  ['include including itself', 'selfinc@dc.uece.br', stranger, ['mailbox:ana@dc.uece.br']],
  ['pipe, split without a shell', 'bot@dc.uece.br', stranger, ['pipe:["/usr/bin/robot","-v","a b"]']],
  ['file and mailbox', 'archive@dc.uece.br', stranger, ['file:/var/mail/archive', 'mailbox:suzana@dc.uece.br']],
  ['webhook target (issue 18)', 'hook@dc.uece.br', stranger, ['webhook:https://app.example/mail', 'mailbox:suzana@dc.uece.br']],
  ['webhook over http:// off loopback: bad target', 'badhook@dc.uece.br', stranger, ['error:550 5.1.1 No such user here']],
  ['webhook from an include file: refused, the rest delivered', 'inchook@dc.uece.br', stranger, ['error:550 5.7.1 Delivery not authorized, message refused', 'mailbox:ana@dc.uece.br']],
  ['error: permanent', 'gone@dc.uece.br', stranger, ['error:550 5.1.6 moved to elsewhere']],
  ['error: temporary', 'busy@dc.uece.br', stranger, ['error:450 4.2.1 try later']],
  ['bad target syntax', 'broken@dc.uece.br', stranger, ['error:550 5.1.1 No such user here']],
  ['dangling target', 'dangling@dc.uece.br', stranger, ['error:550 5.1.1 No such user here']],
  ['catch-all', 'whoever@example.org', stranger, ['mailbox:suzana@dc.uece.br']],
  ['catch-all does not hide users', 'ana@example.org', stranger, ['mailbox:ana@example.org']],
  ['+tag', 'suzana+listas@dc.uece.br', stranger, ['mailbox:suzana@dc.uece.br+listas']],
  ['+tag of an alias follows the alias', 'staff+x@dc.uece.br', stranger, ['mailbox:ana@dc.uece.br', 'mailbox:bia@dc.uece.br', 'remote:carla@remote.example']],
  ['+tag of nobody', 'nobody+x@dc.uece.br', stranger, ['error:550 5.1.1 No such user here']],
  ['postmaster without domain', 'postmaster', stranger, ['mailbox:postmaster@dc.uece.br']],
  ['postmaster of a domain without one falls back', 'Postmaster@example.org', stranger, ['mailbox:postmaster@dc.uece.br']],
  ['unknown local user', 'nobody@dc.uece.br', stranger, ['error:550 5.1.1 No such user here']],
  ['remote: relay rights are judged by the policy at RCPT, not here', 'carla@remote.example', stranger, ['remote:carla@remote.example']],
  ['remote, trusted', 'carla@remote.example', trusted, ['remote:carla@remote.example']],
  ['remote with a static route', 'x@routed.example', trusted, ['remote:x@routed.example via smtp:[127.0.0.1]:2526']],
  ['alias to remote accepted without relay rights (RFC 5321 §3.9)', 'out@dc.uece.br', stranger, ['remote:someone@routed.example via smtp:[127.0.0.1]:2526']],
  ['relay trick %', 'user%remote.example@dc.uece.br', stranger, ['error:550 5.1.1 No such user here']],
  ['relay trick % even when trusted', 'user%remote.example@dc.uece.br', trusted, ['error:550 5.1.1 No such user here']],
  ['relay trick quoted @', '"user@remote.example"@dc.uece.br', stranger, ['error:550 5.1.1 No such user here']],
  ['relay trick bang path', 'remote.example!user@dc.uece.br', stranger, ['error:550 5.1.1 No such user here']],
  ['role follows its holder', 'chefe-de-departamento@dc.uece.br', stranger, ['mailbox:suzana@dc.uece.br']],
  ['a list is a list target, not expanded here', 'lista@dc.uece.br', stranger, ['list:lista@dc.uece.br owner=suzana@dc.uece.br members=ana@dc.uece.br,carla@remote.example,lista@dc.uece.br']],
  ['LIST-owner reaches the owner', 'lista-owner@dc.uece.br', stranger, ['mailbox:suzana@dc.uece.br']],
  ['owner-LIST reaches the owner', 'owner-lista@dc.uece.br', stranger, ['mailbox:suzana@dc.uece.br']],
  ['aliases file: bare name in every local domain', 'root@example.org', stranger, ['mailbox:suzana@dc.uece.br']],
  ['aliases file: bare target in the domain of the recipient', 'info@example.org', stranger, ['mailbox:ana@example.org']],
  ['directory alias takes precedence over the file', 'webmaster@dc.uece.br', stranger, ['mailbox:suzana@dc.uece.br']],
];

for (const [what, rcpt, trace, want] of table) {
  void test(`resolve: ${what}`, async () => {
    const { resolver, tmp } = await fixture();
    try {
      const got = await resolver.resolve(addr(rcpt), trace);
      assert.deepEqual(show(got), want);
      for (const t of got) assert.deepEqual(t.original, addr(rcpt));
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });
}

void test('resolve: a source route is ignored by the path parser (the remote mailbox is what relay control judges)', async () => {
  const { resolver, tmp } = await fixture();
  try {
    const rcpt = parseForwardPath('<@dc.uece.br:user@remote.example>');
    // the route through our own domain is dropped: the recipient is the remote one, which the
    // SMTP policy's relay-control check refuses for a stranger at RCPT (policy/checks.test.ts, t-21)
    assert.deepEqual(show(await resolver.resolve(rcpt, stranger)), ['remote:user@remote.example']);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
});

void test('resolve: a disabled account is 550 5.2.1, itself and through an alias; enabled again, a mailbox', async () => {
  const { dir, resolver, tmp } = await fixture();
  try {
    await dir.setUserDisabled('ana@dc.uece.br', true);
    assert.deepEqual(show(await resolver.resolve(addr('ana@dc.uece.br'), stranger)), ['error:550 5.2.1 Mailbox disabled, not accepting messages']);
    assert.deepEqual(show(await resolver.resolve(addr('staff@dc.uece.br'), stranger)), [
      'error:550 5.2.1 Mailbox disabled, not accepting messages', 'mailbox:bia@dc.uece.br', 'remote:carla@remote.example',
    ]);
    await dir.setUserDisabled('ana@dc.uece.br', false);
    assert.deepEqual(show(await resolver.resolve(addr('ana@dc.uece.br'), stranger)), ['mailbox:ana@dc.uece.br']);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
});

void test('resolve: via records the names followed', async () => {
  const { resolver, tmp } = await fixture();
  try {
    const got = await resolver.resolve(addr('team@dc.uece.br'), stranger);
    assert.deepEqual(got.map((t) => t.via), [
      ['team@dc.uece.br', 'staff@dc.uece.br'],
      ['team@dc.uece.br', 'staff@dc.uece.br'],
      ['team@dc.uece.br', 'staff@dc.uece.br'],
      ['team@dc.uece.br'],
    ]);
    const direct = await resolver.resolve(addr('suzana+x@dc.uece.br'), stranger);
    assert.deepEqual(direct[0].via, []);
    assert.equal(direct[0].kind === 'mailbox' && `${direct[0].address.local}@${direct[0].address.domain}`, 'suzana+x@dc.uece.br');
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
});

void test('resolve: the seed\'s chefe-de-departamento follows the current holder after setRole', async () => {
  const { dir, resolver, tmp } = await fixture();
  try {
    const role = addr('chefe-de-departamento@dc.uece.br');
    assert.deepEqual(show(await resolver.resolve(role, stranger)), ['mailbox:suzana@dc.uece.br']);
    await dir.setRole('chefe-de-departamento@dc.uece.br', 'bia@dc.uece.br');
    assert.deepEqual(show(await resolver.resolve(role, stranger)), ['mailbox:bia@dc.uece.br']);
    await dir.setRole('chefe-de-departamento@dc.uece.br', 'jacques@remote.example');
    assert.deepEqual(show(await resolver.resolve(role, stranger)), ['remote:jacques@remote.example']);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
});

void test('resolve: a role holder or list owner that looks like a pipe is an error leaf, never a pipe', async () => {
  const { dir, resolver, tmp } = await fixture();
  try {
    // "|/usr/bin/touch@dc.uece.br" is an RFC 5321 Dot-string address, so the directory stores it;
    // delivery must still never run it (issue 12 item 10's rule, for owners and holders too)
    await dir.setRole('chefe-de-departamento@dc.uece.br', '|/usr/bin/touch@dc.uece.br');
    assert.deepEqual(show(await resolver.resolve(addr('chefe-de-departamento@dc.uece.br'), stranger)), [
      'error:553 5.1.3 Bad destination mailbox address syntax',
    ]);
    await dir.createList('piped@dc.uece.br', '|/usr/bin/touch@dc.uece.br');
    assert.deepEqual(show(await resolver.resolve(addr('piped-owner@dc.uece.br'), stranger)), [
      'error:553 5.1.3 Bad destination mailbox address syntax',
    ]);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
});

void test('resolve: a long chain stops at maxDepth with 5.4.6', async () => {
  const { dir, resolver, tmp } = await fixture({ maxDepth: 5 });
  try {
    for (let i = 0; i < 10; i++) await dir.setAlias(`chain${i}@dc.uece.br`, [`chain${i + 1}`]);
    await dir.setAlias('chain10@dc.uece.br', ['ana']);
    assert.deepEqual(show(await resolver.resolve(addr('chain0@dc.uece.br'), stranger)), ['error:554 5.4.6 Mail loop detected']);
    assert.deepEqual(show(await resolver.resolve(addr('chain7@dc.uece.br'), stranger)), ['mailbox:ana@dc.uece.br']);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
});

void test('resolve: more targets than maxTargets is one 5.2.4 error', async () => {
  const { dir, resolver, tmp } = await fixture({ maxTargets: 3 });
  try {
    await dir.setAlias('big@dc.uece.br', ['a1@remote.example', 'a2@remote.example', 'a3@remote.example', 'a4@remote.example']);
    assert.deepEqual(show(await resolver.resolve(addr('big@dc.uece.br'), stranger)), ['error:550 5.2.4 Mailing list expansion problem']);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
});

void test('resolve: sub-addressing can be turned off', async () => {
  const { resolver, tmp } = await fixture({ recipientDelimiter: '' });
  try {
    assert.deepEqual(show(await resolver.resolve(addr('suzana+x@dc.uece.br'), stranger)), ['error:550 5.1.1 No such user here']);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
});

void test('resolve: postmaster resolves even with no postmaster user anywhere', async () => {
  const dir = new MemoryDirectory({ domains: ['solo.example'] });
  const resolver = new AliasResolver({ directory: dir });
  assert.deepEqual(show(await resolver.resolve(addr('postmaster'), stranger)), ['mailbox:postmaster@solo.example']);
  assert.deepEqual(show(await resolver.resolve(addr('POSTMASTER@solo.example'), stranger)), ['mailbox:postmaster@solo.example']);
});

void test('resolve: a directory failure is a temporary MailError, never "no such user"', async () => {
  const { dir, resolver, tmp } = await fixture();
  try {
    dir.failing = true;
    await assert.rejects(resolver.resolve(addr('suzana@dc.uece.br'), stranger), (err: unknown) => {
      assert.ok(err instanceof MailError);
      assert.equal(err.reply.code, 451);
      return true;
    });
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
});

void test('resolve: an unreadable include file (not missing) is a temporary failure', async () => {
  const { resolver, tmp } = await fixture({
    readInclude: async () => {
      throw Object.assign(new Error('EIO: i/o error'), { code: 'EIO' });
    },
  });
  try {
    await assert.rejects(resolver.resolve(addr('inc@dc.uece.br'), stranger), (err: unknown) => err instanceof MailError && err.reply.code === 451);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
});

void test('explain: the expansion tree names every step and leaf', async () => {
  const { resolver, tmp } = await fixture();
  try {
    const { tree, targets } = await resolver.explain('team@dc.uece.br');
    assert.equal(tree.kind, 'alias');
    assert.equal(tree.name, 'team@dc.uece.br');
    assert.equal(tree.source, 'directory');
    assert.deepEqual(tree.children.map((c) => [c.name, c.kind]), [
      ['staff@dc.uece.br', 'alias'],
      ['dora@remote.example', 'remote'],
      ['ana@dc.uece.br', 'duplicate'],
    ]);
    assert.deepEqual(tree.children[0].children.map((c) => c.route), ['local:ana@dc.uece.br', 'local:bia@dc.uece.br', 'smtp:remote.example']);
    assert.equal(targets.length, 4);
    JSON.stringify(tree); // plain data for --json

    const list = await resolver.explain('lista@dc.uece.br');
    assert.equal(list.tree.kind, 'list');
    assert.deepEqual(list.tree.children.map((c) => [c.name, c.kind]), [
      ['ana@dc.uece.br', 'mailbox'],
      ['carla@remote.example', 'remote'],
      ['lista@dc.uece.br', 'duplicate'],
    ]);
    assert.deepEqual(show(list.targets), ['list:lista@dc.uece.br owner=suzana@dc.uece.br members=ana@dc.uece.br,carla@remote.example,lista@dc.uece.br']);

    const role = await resolver.explain('chefe-de-departamento@dc.uece.br');
    assert.equal(role.tree.kind, 'role');
    assert.equal(role.tree.children[0].route, 'local:suzana@dc.uece.br');

    // an error leaf carries its reply and no route
    const gone = await resolver.explain('gone@dc.uece.br');
    const leaf = gone.tree.children[0];
    assert.equal(leaf.kind, 'error');
    assert.match(leaf.reply ?? '', /^550 5\.1\.6 /);
    assert.equal(leaf.route, undefined);

    const loop = await resolver.explain('a@dc.uece.br');
    assert.equal(loop.tree.children[0].children[0].kind, 'loop');

    await assert.rejects(resolver.explain('not an address'), (err: unknown) => err instanceof MailError && err.reply.code === 501);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
});

void test('check: cycles and dangling targets', async () => {
  const { dir, resolver, tmp } = await fixture();
  try {
    const cycles = await findCycles(dir, new Map([['loopy', { name: 'loopy', targets: ['loopy'] }]]));
    const names = cycles.map((c) => c.names.join(' -> '));
    assert.ok(names.includes('a@dc.uece.br -> b@dc.uece.br'), names.join('; '));
    assert.ok(names.includes('c@dc.uece.br -> d@dc.uece.br'), names.join('; '));
    assert.ok(names.includes('loopy@dc.uece.br') && names.includes('loopy@example.org'), names.join('; '));
    // bob: bob, bob@remote is the sendmail idiom, not a cycle to report
    assert.ok(!names.some((n) => n.startsWith('bob@')), names.join('; '));
    assert.ok(cycles.every((c) => c.mailboxes.length === 0));

    const dangling = await resolver.findDangling(dir);
    const pairs = dangling.map((d) => `${d.name} ${d.target}`);
    assert.ok(pairs.includes('dangling@dc.uece.br nobody'), pairs.join('; '));
    assert.ok(pairs.includes('broken@dc.uece.br ana maria'), pairs.join('; '));
    assert.ok(pairs.some((p) => p.startsWith('noinc@dc.uece.br :include:')), pairs.join('; '));
    assert.ok(!pairs.some((p) => p.startsWith('staff@')), pairs.join('; '));
    // example.org has a catch-all, so nothing there dangles
    assert.ok(!pairs.some((p) => p.includes('@example.org')), pairs.join('; '));
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
});

void test('splitCommand: words without a shell', () => {
  assert.deepEqual(splitCommand(`/bin/x -a 'b c' "d \\"e\\"" f\\ g`), ['/bin/x', '-a', 'b c', 'd "e"', 'f g']);
  assert.deepEqual(splitCommand(`/bin/x $HOME; rm -rf /`), ['/bin/x', '$HOME;', 'rm', '-rf', '/']);
  assert.throws(() => splitCommand(`/bin/x 'a`), /unterminated/);
});

void test('a directory that reads a name at once (findName) is asked once per name, with the same expansions as the four lookups', async () => {
  const { dir, tmp } = await fixture();
  try {
    const counts = { findName: 0, separate: 0 };
    const counted = Object.create(dir) as MemoryDirectory;
    for (const m of ['findAlias', 'findRole', 'findList', 'findUser'] as const) {
      Object.defineProperty(counted, m, { value: (...a: [string]) => (counts.separate++, (dir[m] as (...x: [string]) => unknown).apply(dir, a)) });
    }
    Object.defineProperty(counted, 'findName', {
      value: async (local: string, domain: string) => {
        counts.findName++;
        const name = `${local}@${domain}`.toLowerCase();
        const [alias, role, list, user] = [await dir.findAlias(name), await dir.findRole(name), await dir.findList(name), await dir.findUser({ local, domain })];
        return { ...(alias && { alias }), ...(role && { role }), ...(list && { list }), ...(user && { user }) };
      },
    });
    const withFindName = new AliasResolver({ directory: counted, aliasesFromFile: () => new Map(), routes: { 'routed.example': { transport: 'smtp', nextHop: '[127.0.0.1]:2526' } } });
    const without = new AliasResolver({ directory: dir, aliasesFromFile: () => new Map(), routes: { 'routed.example': { transport: 'smtp', nextHop: '[127.0.0.1]:2526' } } });
    for (const rcpt of ['suzana@dc.uece.br', 'staff@dc.uece.br', 'chefe-de-departamento@dc.uece.br', 'lista@dc.uece.br', 'ghost@dc.uece.br']) {
      counts.findName = 0;
      counts.separate = 0;
      const got = show(await withFindName.resolve(addr(rcpt), stranger));
      assert.deepEqual(got, show(await without.resolve(addr(rcpt), stranger)), rcpt);
      assert.ok(counts.findName > 0, `${rcpt}: findName asked`);
      if (rcpt === 'suzana@dc.uece.br') assert.deepEqual(counts, { findName: 1, separate: 0 }, 'a user: one read');
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
});
