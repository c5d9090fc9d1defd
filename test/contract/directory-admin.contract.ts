/**
 * @module directory-admin-contract
 * The administration face every directory backend must have (core DirectoryAdmin: SQLite now,
 * PostgreSQL later, and the in-memory test directory): changes, their validation, listing,
 * find, persistence. directory-lookup.contract.ts checks the lookup face. A backend's test
 * calls directoryAdminContract(name, make) and gets one node:test suite.
 * Standards: seed §2 (directory, aliases, lists, roles); RFC 5321 §4.5.1 (postmaster);
 *   RFC 5321 §2.4 (local parts: correio matches them case-insensitively, keeps their case).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DirectoryInputError,
  hashPassword,
  type DirectoryBackend,
} from '../../src/directory/index.js';

export interface ContractDirectory {
  dir: DirectoryBackend;
  /** closes `dir` and opens the same storage again (persistence) */
  reopen(): Promise<DirectoryBackend>;
  /** closes the directory and removes everything it made */
  cleanup(): Promise<void>;
}

/** `make` opens a fresh, empty directory with these local domains configured. */
export type MakeDirectory = (opts: { localDomains: string[] }) => Promise<ContractDirectory>;

const isInputError = (err: unknown): boolean => err instanceof DirectoryInputError;

export function directoryAdminContract(name: string, make: MakeDirectory): void {
  async function withDir(fn: (dir: DirectoryBackend, c: ContractDirectory) => Promise<void>): Promise<void> {
    const c = await make({ localDomains: ['dc.uece.br', 'Example.ORG'] });
    try {
      await fn(c.dir, c);
    } finally {
      await c.cleanup();
    }
  }

  void describe(`Directory admin contract: ${name}`, () => {
    void test('open ensures the local domains and postmaster@<first local domain>', () =>
      withDir(async (dir) => {
        assert.deepEqual(await dir.listDomains(), ['dc.uece.br', 'example.org']);
        assert.equal((await dir.findUser('postmaster@dc.uece.br'))?.address, 'postmaster@dc.uece.br');
        assert.equal(await dir.findUser('postmaster@example.org'), undefined);
      }));

    void test('domains: case-insensitive, idempotent, validated', () =>
      withDir(async (dir) => {
        assert.equal(await dir.isLocalDomain('DC.UECE.BR'), true);
        assert.equal(await dir.isLocalDomain('dsc.ufpb.br'), false);
        assert.equal(await dir.isLocalDomain('not a domain'), false);
        await dir.addDomain('DSC.ufpb.br.');
        await dir.addDomain('dsc.ufpb.br');
        assert.equal(await dir.isLocalDomain('dsc.ufpb.br'), true);
        assert.deepEqual(await dir.listDomains(), ['dc.uece.br', 'dsc.ufpb.br', 'example.org']);
        await assert.rejects(dir.addDomain('bad domain'), isInputError);
      }));

    void test('users: add, find (case-insensitive, string or Address), list, delete', () =>
      withDir(async (dir) => {
        const u = await dir.addUser('Suzana@DC.uece.br', undefined, 'Suzana Matos');
        assert.equal(u.address, 'Suzana@dc.uece.br');
        assert.equal(u.name, 'Suzana Matos');
        assert.equal(typeof u.createdAt, 'number');
        assert.equal((await dir.findUser('suzana@dc.uece.br'))?.address, 'Suzana@dc.uece.br');
        assert.equal((await dir.findUser('SUZANA@DC.UECE.BR'))?.name, 'Suzana Matos');
        assert.equal((await dir.findUser({ local: 'suzana', domain: 'dc.uece.br' }))?.address, 'Suzana@dc.uece.br');
        assert.equal(await dir.findUser('suzana@example.org'), undefined);
        assert.equal(await dir.findUser('nobody@dc.uece.br'), undefined);
        assert.equal(await dir.findUser('garbage'), undefined);
        await dir.addUser('jacques@example.org');
        assert.deepEqual(
          (await dir.listUsers()).map((x) => x.address),
          ['jacques@example.org', 'postmaster@dc.uece.br', 'Suzana@dc.uece.br'],
        );
        assert.equal((await dir.listUsers()).find((x) => x.address === 'jacques@example.org')?.name, undefined);
        assert.equal(await dir.deleteUser('SUZANA@dc.uece.br'), true);
        assert.equal(await dir.deleteUser('suzana@dc.uece.br'), false);
        assert.equal(await dir.findUser('suzana@dc.uece.br'), undefined);
      }));

    void test('users: duplicates, foreign domains and bad addresses are input errors', () =>
      withDir(async (dir) => {
        await dir.addUser('suzana@dc.uece.br');
        await assert.rejects(dir.addUser('SUZANA@dc.uece.br'), isInputError);
        await assert.rejects(dir.addUser('someone@elsewhere.example'), isInputError);
        for (const bad of ['no-at-sign', '@dc.uece.br', 'a b@dc.uece.br', 'x@bad_domain', 'x@', `${'a'.repeat(65)}@dc.uece.br`]) {
          await assert.rejects(dir.addUser(bad), isInputError, bad);
        }
      }));

    void test('passwords: verify right, wrong, unknown user, user without password; change', async () => {
      const h1 = await hashPassword('correct horse');
      const h2 = await hashPassword('battery staple');
      await withDir(async (dir) => {
        await dir.addUser('suzana@dc.uece.br', h1);
        await dir.addUser('nopass@dc.uece.br');
        assert.equal(await dir.verifyPassword('Suzana@DC.UECE.BR', 'correct horse'), true);
        assert.equal(await dir.verifyPassword('suzana@dc.uece.br', 'Correct horse'), false);
        assert.equal(await dir.verifyPassword('ghost@dc.uece.br', 'correct horse'), false);
        assert.equal(await dir.verifyPassword('nopass@dc.uece.br', ''), false);
        assert.equal(await dir.setPassword('suzana@dc.uece.br', h2), true);
        assert.equal(await dir.verifyPassword('suzana@dc.uece.br', 'correct horse'), false);
        assert.equal(await dir.verifyPassword('suzana@dc.uece.br', 'battery staple'), true);
        assert.equal(await dir.setPassword('ghost@dc.uece.br', h2), false);
        // the hash never leaves: not on User, not in find()
        const u = await dir.findUser('suzana@dc.uece.br');
        assert.ok(u && !JSON.stringify(u).includes('scrypt'));
        assert.ok(!JSON.stringify(await dir.find('suzana')).includes('scrypt'));
      });
    });

    void test('quotas: set, change one field, back to the default (null), 0 = no limit, bad numbers refused, persist', () =>
      withDir(async (dir, c) => {
        await dir.addUser('suzana@dc.uece.br');
        assert.equal((await dir.findUser('suzana@dc.uece.br'))?.quota, undefined);
        assert.equal(await dir.setUserQuota('Suzana@DC.uece.br', { storage: 10_000_000, messages: 500 }), true);
        assert.deepEqual((await dir.findUser('suzana@dc.uece.br'))?.quota, { storage: 10_000_000, messages: 500 });
        assert.equal(await dir.setUserQuota('suzana@dc.uece.br', { messages: null }), true);
        assert.deepEqual((await dir.findUser('suzana@dc.uece.br'))?.quota, { storage: 10_000_000 });
        assert.equal(await dir.setUserQuota('suzana@dc.uece.br', { storage: 0 }), true);
        assert.deepEqual((await dir.listUsers()).find((u) => u.address === 'suzana@dc.uece.br')?.quota, { storage: 0 });
        // a quota beyond 2^31 (a 5 GB mailbox) is kept exactly
        assert.equal(await dir.setUserQuota('suzana@dc.uece.br', { storage: 5 * 1024 ** 3 }), true);
        await assert.rejects(dir.setUserQuota('suzana@dc.uece.br', { storage: -1 }), isInputError);
        await assert.rejects(dir.setUserQuota('suzana@dc.uece.br', { messages: 1.5 }), isInputError);
        assert.equal(await dir.setUserQuota('ghost@dc.uece.br', { storage: 1 }), false);
        const again = await c.reopen();
        assert.deepEqual((await again.findUser('suzana@dc.uece.br'))?.quota, { storage: 5 * 1024 ** 3 });
        assert.equal(await again.setUserQuota('suzana@dc.uece.br', { storage: null }), true);
        assert.equal((await again.findUser('suzana@dc.uece.br'))?.quota, undefined);
      }));

    void test('disabled accounts: no password verifies; enable again; persist', async () => {
      const h = await hashPassword('correct horse');
      await withDir(async (dir, c) => {
        await dir.addUser('suzana@dc.uece.br', h);
        assert.equal((await dir.findUser('suzana@dc.uece.br'))?.disabled, undefined);
        assert.equal(await dir.setUserDisabled('SUZANA@dc.uece.br', true), true);
        assert.equal((await dir.findUser('suzana@dc.uece.br'))?.disabled, true);
        assert.equal(await dir.verifyPassword('suzana@dc.uece.br', 'correct horse'), false);
        assert.equal(await dir.setUserDisabled('ghost@dc.uece.br', true), false);
        const again = await c.reopen();
        assert.equal((await again.findUser('suzana@dc.uece.br'))?.disabled, true);
        assert.equal(await again.setUserDisabled('suzana@dc.uece.br', false), true);
        assert.equal((await again.findUser('suzana@dc.uece.br'))?.disabled, undefined);
        assert.equal(await again.verifyPassword('suzana@dc.uece.br', 'correct horse'), true);
      });
    });

    void test('aliases: set, replace, find case-insensitively, catch-all and bare names, delete', () =>
      withDir(async (dir) => {
        await dir.setAlias('Chefe@DC.uece.br', ['suzana@dc.uece.br', 'jacques@dsc.ufpb.br']);
        const a = await dir.findAlias('chefe@dc.uece.br');
        assert.deepEqual(a, { name: 'Chefe@dc.uece.br', targets: ['suzana@dc.uece.br', 'jacques@dsc.ufpb.br'], source: 'directory' });
        await dir.setAlias('chefe@dc.uece.br', ['|/usr/bin/vacation suzana', '/var/mail/archive', ':include:/etc/x', 'error:5.1.1 gone'], 'aliases');
        assert.deepEqual((await dir.findAlias('CHEFE@dc.uece.br'))?.targets, [
          '|/usr/bin/vacation suzana',
          '/var/mail/archive',
          ':include:/etc/x',
          'error:5.1.1 gone',
        ]);
        assert.equal((await dir.findAlias('chefe@dc.uece.br'))?.source, 'aliases');
        await dir.setAlias('@Example.org', ['postmaster@dc.uece.br']);
        assert.deepEqual((await dir.findAlias('@example.org'))?.targets, ['postmaster@dc.uece.br']);
        await dir.setAlias('root', ['postmaster']);
        assert.deepEqual((await dir.findAlias('ROOT'))?.targets, ['postmaster']);
        assert.deepEqual(
          (await dir.listAliases()).map((x) => x.name),
          ['@example.org', 'chefe@dc.uece.br', 'root'],
        );
        assert.equal(await dir.findAlias('nobody@dc.uece.br'), undefined);
        assert.equal(await dir.deleteAlias('Root'), true);
        assert.equal(await dir.deleteAlias('root'), false);
        await assert.rejects(dir.setAlias('empty@dc.uece.br', []), isInputError);
        await assert.rejects(dir.setAlias('x y@dc.uece.br', ['a@b.c']), isInputError);
        await assert.rejects(dir.setAlias('x@dc.uece.br', ['a\nb']), isInputError);
      }));

    void test('aliases: replaceAliases swaps one source and keeps the others', () =>
      withDir(async (dir) => {
        await dir.setAlias('mine@dc.uece.br', ['suzana@dc.uece.br']);
        await dir.replaceAliases('/etc/aliases', [
          { name: 'old@dc.uece.br', targets: ['a@dc.uece.br'] },
          { name: 'kept@dc.uece.br', targets: ['b@dc.uece.br'] },
        ]);
        await dir.replaceAliases('/etc/aliases', [{ name: 'kept@dc.uece.br', targets: ['c@dc.uece.br'] }]);
        assert.equal(await dir.findAlias('old@dc.uece.br'), undefined);
        assert.deepEqual(await dir.findAlias('kept@dc.uece.br'), {
          name: 'kept@dc.uece.br',
          targets: ['c@dc.uece.br'],
          source: '/etc/aliases',
        });
        assert.equal((await dir.findAlias('mine@dc.uece.br'))?.source, 'directory');
        // a bad alias rejects the whole set, leaving the previous one in force
        await assert.rejects(dir.replaceAliases('/etc/aliases', [{ name: 'ok@dc.uece.br', targets: [] }]), isInputError);
        assert.deepEqual((await dir.findAlias('kept@dc.uece.br'))?.targets, ['c@dc.uece.br']);
      }));

    void test('lists: create, members in order without duplicates, remove, delete', () =>
      withDir(async (dir) => {
        const l = await dir.createList('Colegiado@dc.uece.br', 'suzana@dc.uece.br', 'course board');
        assert.deepEqual(l, { address: 'Colegiado@dc.uece.br', owner: 'suzana@dc.uece.br', members: [], description: 'course board' });
        await assert.rejects(dir.createList('colegiado@DC.UECE.BR', 'x@dc.uece.br'), isInputError);
        await dir.addListMembers('colegiado@dc.uece.br', ['jacques@dsc.ufpb.br', 'suzana@dc.uece.br']);
        await dir.addListMembers('colegiado@dc.uece.br', ['Jacques@DSC.ufpb.br', 'helvecio@dsc.ufpb.br']);
        assert.deepEqual((await dir.findList('COLEGIADO@dc.uece.br'))?.members, [
          'jacques@dsc.ufpb.br',
          'suzana@dc.uece.br',
          'helvecio@dsc.ufpb.br',
        ]);
        await dir.removeListMembers('colegiado@dc.uece.br', ['SUZANA@dc.uece.br', 'not-a-member@x.org']);
        assert.deepEqual((await dir.findList('colegiado@dc.uece.br'))?.members, ['jacques@dsc.ufpb.br', 'helvecio@dsc.ufpb.br']);
        await dir.createList('empty@example.org', 'postmaster@dc.uece.br');
        assert.deepEqual(
          (await dir.listLists()).map((x) => [x.address, x.members.length]),
          [['Colegiado@dc.uece.br', 2], ['empty@example.org', 0]],
        );
        assert.equal((await dir.findList('empty@example.org'))?.description, undefined);
        await assert.rejects(dir.addListMembers('ghost@dc.uece.br', ['a@b.c']), isInputError);
        await assert.rejects(dir.removeListMembers('ghost@dc.uece.br', ['a@b.c']), isInputError);
        await assert.rejects(dir.addListMembers('colegiado@dc.uece.br', ['not an address']), isInputError);
        await assert.rejects(dir.createList('x@dc.uece.br', 'bad owner'), isInputError);
        assert.equal(await dir.deleteList('colegiado@dc.uece.br'), true);
        assert.equal(await dir.findList('colegiado@dc.uece.br'), undefined);
        assert.equal(await dir.deleteList('colegiado@dc.uece.br'), false);
        // members went with the list: a new list of that name starts empty
        await dir.createList('colegiado@dc.uece.br', 'suzana@dc.uece.br');
        assert.deepEqual((await dir.findList('colegiado@dc.uece.br'))?.members, []);
      }));

    void test('roles: the seed\'s chefe-de-departamento follows its current holder at once', () =>
      withDir(async (dir) => {
        await dir.setRole('chefe-de-departamento@dc.uece.br', 'suzana@dc.uece.br', 'head of department');
        assert.deepEqual(await dir.findRole('Chefe-De-Departamento@DC.uece.br'), {
          address: 'chefe-de-departamento@dc.uece.br',
          holder: 'suzana@dc.uece.br',
          description: 'head of department',
        });
        await dir.setRole('chefe-de-departamento@dc.uece.br', 'jacques@dc.uece.br');
        const r = await dir.findRole('chefe-de-departamento@dc.uece.br');
        assert.equal(r?.holder, 'jacques@dc.uece.br');
        assert.equal(r?.description, 'head of department');
        await dir.setRole('coordenador@dc.uece.br', 'suzana@dc.uece.br');
        assert.deepEqual(
          (await dir.listRoles()).map((x) => [x.address, x.holder]),
          [['chefe-de-departamento@dc.uece.br', 'jacques@dc.uece.br'], ['coordenador@dc.uece.br', 'suzana@dc.uece.br']],
        );
        assert.equal((await dir.findRole('coordenador@dc.uece.br'))?.description, undefined);
        assert.equal(await dir.findRole('nobody@dc.uece.br'), undefined);
        await assert.rejects(dir.setRole('bad role', 'suzana@dc.uece.br'), isInputError);
        await assert.rejects(dir.setRole('x@dc.uece.br', 'bad holder'), isInputError);
        assert.equal(await dir.deleteRole('coordenador@dc.uece.br'), true);
        assert.equal(await dir.deleteRole('coordenador@dc.uece.br'), false);
      }));

    void test('find: addresses, names, aliases, lists and roles, case-insensitive, wildcards literal', () =>
      withDir(async (dir) => {
        await dir.addUser('suzana@dc.uece.br', undefined, 'Suzana Matos');
        await dir.addUser('jacques@dc.uece.br', undefined, 'Jacques Sauvé');
        await dir.setAlias('sm@dc.uece.br', ['suzana@dc.uece.br']);
        await dir.createList('pesquisa@dc.uece.br', 'jacques@dc.uece.br', 'grupo de pesquisa de Suzana');
        await dir.setRole('chefe-de-departamento@dc.uece.br', 'suzana@dc.uece.br', 'head of department');
        const hits = await dir.find('SUZANA');
        assert.deepEqual(
          hits.map((h) => [h.kind, h.address]),
          [
            ['user', 'suzana@dc.uece.br'],
            ['alias', 'sm@dc.uece.br'],
            ['list', 'pesquisa@dc.uece.br'],
            ['role', 'chefe-de-departamento@dc.uece.br'],
          ],
        );
        assert.equal(hits[0].detail, 'Suzana Matos');
        assert.equal(hits[1].detail, 'suzana@dc.uece.br');
        assert.match(hits[3].detail ?? '', /suzana@dc\.uece\.br/);
        assert.deepEqual((await dir.find('sauvé')).map((h) => h.address), ['jacques@dc.uece.br']);
        assert.deepEqual((await dir.find('head of')).map((h) => h.kind), ['role']);
        assert.deepEqual((await dir.find('uece.br')).filter((h) => h.kind === 'domain').map((h) => h.address), ['dc.uece.br']);
        assert.deepEqual(await dir.find('%'), []);
        assert.deepEqual(await dir.find('nothing-like-this'), []);
      }));

    void test('everything persists across close and reopen', () =>
      withDir(async (dir, c) => {
        await dir.addUser('suzana@dc.uece.br', await hashPassword('pw'), 'Suzana');
        await dir.setAlias('chefe@dc.uece.br', ['suzana@dc.uece.br']);
        await dir.createList('l@dc.uece.br', 'suzana@dc.uece.br');
        await dir.addListMembers('l@dc.uece.br', ['a@x.org']);
        await dir.setRole('r@dc.uece.br', 'suzana@dc.uece.br');
        const again = await c.reopen();
        assert.equal((await again.findUser('suzana@dc.uece.br'))?.name, 'Suzana');
        assert.equal(await again.verifyPassword('suzana@dc.uece.br', 'pw'), true);
        assert.deepEqual((await again.findAlias('chefe@dc.uece.br'))?.targets, ['suzana@dc.uece.br']);
        assert.deepEqual((await again.findList('l@dc.uece.br'))?.members, ['a@x.org']);
        assert.equal((await again.findRole('r@dc.uece.br'))?.holder, 'suzana@dc.uece.br');
        assert.equal((await again.listUsers()).filter((u) => u.address.startsWith('postmaster@')).length, 1);
      }));
  });
}
