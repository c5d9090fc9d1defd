/**
 * @module directory-lookup-contract
 * The lookup face every directory backend must have (core DirectoryLookup: what resolve,
 * intake, the transports, policy and the servers call on the delivery path): SQLite now,
 * PostgreSQL later, and the in-memory test directory. Content is written through the admin
 * face (directory-admin.contract.ts checks that one); every check reads through a
 * DirectoryLookup only. A backend's test calls directoryLookupContract(name, make).
 * Standards: seed §2 (directory, aliases, lists, roles); RFC 5321 §2.4 (local parts matched
 *   case-insensitively, case kept); RFC 5321 §4.5.1 (postmaster).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { DirectoryLookup } from '../../src/core/index.js';
import { hashPassword } from '../../src/directory/index.js';
import type { ContractDirectory, MakeDirectory } from './directory-admin.contract.js';

export function directoryLookupContract(name: string, make: MakeDirectory): void {
  /** A directory with local domains dc.uece.br and example.org and the seed's names in it. */
  async function withSeeded(fn: (look: DirectoryLookup, c: ContractDirectory) => Promise<void>): Promise<void> {
    const c = await make({ localDomains: ['dc.uece.br', 'Example.ORG'] });
    try {
      const dir = c.dir;
      await dir.addUser('Suzana@dc.uece.br', await hashPassword('correct horse'), 'Suzana Matos');
      await dir.addUser('nopass@dc.uece.br');
      await dir.setAlias('Chefe@dc.uece.br', ['suzana@dc.uece.br', '|/usr/bin/vacation suzana']);
      await dir.setAlias('@example.org', ['postmaster@dc.uece.br']);
      await dir.setAlias('root', ['postmaster']);
      await dir.createList('Colegiado@dc.uece.br', 'suzana@dc.uece.br', 'course board');
      await dir.addListMembers('colegiado@dc.uece.br', ['jacques@dsc.ufpb.br', 'suzana@dc.uece.br']);
      await dir.setRole('chefe-de-departamento@dc.uece.br', 'suzana@dc.uece.br', 'head of department');
      await fn(dir, c);
    } finally {
      await c.cleanup();
    }
  }

  void describe(`Directory lookup contract: ${name}`, () => {
    void test('domains: local ones case-insensitively, in order; a name that is no domain is simply not local', () =>
      withSeeded(async (look) => {
        assert.deepEqual(await look.listDomains(), ['dc.uece.br', 'example.org']);
        assert.equal(await look.isLocalDomain('DC.UECE.br'), true);
        assert.equal(await look.isLocalDomain('example.org.'), true);
        assert.equal(await look.isLocalDomain('dsc.ufpb.br'), false);
        assert.equal(await look.isLocalDomain('not a domain'), false);
        assert.equal(await look.isLocalDomain(''), false);
      }));

    void test('findName, where offered, answers what findAlias, findRole, findList and findUser answer for one name', () =>
      withSeeded(async (look) => {
        if (!look.findName) return;
        const names: [string, string][] = [
          ['Suzana', 'dc.uece.br'], ['CHEFE', 'DC.uece.br'], ['colegiado', 'dc.uece.br'],
          ['chefe-de-departamento', 'dc.uece.br'], ['ghost', 'dc.uece.br'], ['suzana', 'example.org'], ['a b', 'dc.uece.br'],
        ];
        for (const [local, domain] of names) {
          const name = `${local}@${domain}`.toLowerCase();
          const [alias, role, list, user] = [
            await look.findAlias(name), await look.findRole(name), await look.findList(name), await look.findUser({ local, domain }),
          ];
          const separate = { ...(alias && { alias }), ...(role && { role }), ...(list && { list }), ...(user && { user }) };
          assert.deepEqual(await look.findName(local, domain), separate, name);
        }
        const chefe = await look.findName('chefe', 'dc.uece.br');
        assert.ok(chefe.alias && !chefe.user, 'an alias is found as an alias');
        assert.equal((await look.findName('SUZANA', 'dc.uece.br')).user?.address, 'Suzana@dc.uece.br');
        assert.equal((await look.findName('colegiado', 'dc.uece.br')).list?.address, 'Colegiado@dc.uece.br');
      }));

    void test('users: found case-insensitively by string or Address, case kept; no hash on the result; postmaster exists', () =>
      withSeeded(async (look) => {
        const u = await look.findUser('SUZANA@DC.UECE.BR');
        assert.equal(u?.address, 'Suzana@dc.uece.br');
        assert.equal(u?.name, 'Suzana Matos');
        assert.ok(!JSON.stringify(u).includes('scrypt'));
        assert.equal((await look.findUser({ local: 'suzana', domain: 'dc.uece.br' }))?.address, 'Suzana@dc.uece.br');
        assert.equal((await look.findUser('postmaster@dc.uece.br'))?.address, 'postmaster@dc.uece.br');
        for (const absent of ['suzana@example.org', 'ghost@dc.uece.br', 'garbage', '', '@dc.uece.br']) {
          assert.equal(await look.findUser(absent), undefined, absent);
        }
      }));

    void test('passwords: right, wrong case, unknown user, user without a password', () =>
      withSeeded(async (look) => {
        assert.equal(await look.verifyPassword('suzana@DC.uece.br', 'correct horse'), true);
        assert.equal(await look.verifyPassword('suzana@dc.uece.br', 'Correct horse'), false);
        assert.equal(await look.verifyPassword('ghost@dc.uece.br', 'correct horse'), false);
        assert.equal(await look.verifyPassword('nopass@dc.uece.br', ''), false);
        assert.equal(await look.verifyPassword('garbage', 'x'), false);
      }));

    void test('aliases: by name case-insensitively, catch-all "@domain", bare names; targets and source as stored', () =>
      withSeeded(async (look) => {
        assert.deepEqual(await look.findAlias('chefe@DC.UECE.BR'), {
          name: 'Chefe@dc.uece.br',
          targets: ['suzana@dc.uece.br', '|/usr/bin/vacation suzana'],
          source: 'directory',
        });
        assert.deepEqual((await look.findAlias('@EXAMPLE.org'))?.targets, ['postmaster@dc.uece.br']);
        assert.deepEqual((await look.findAlias('Root'))?.targets, ['postmaster']);
        assert.equal(await look.findAlias('nobody@dc.uece.br'), undefined);
        assert.equal(await look.findAlias('x y@dc.uece.br'), undefined);
      }));

    void test('lists and roles: members in the order added, the role\'s current holder', () =>
      withSeeded(async (look, c) => {
        assert.deepEqual(await look.findList('COLEGIADO@dc.uece.br'), {
          address: 'Colegiado@dc.uece.br',
          owner: 'suzana@dc.uece.br',
          members: ['jacques@dsc.ufpb.br', 'suzana@dc.uece.br'],
          description: 'course board',
        });
        assert.equal(await look.findList('ghost@dc.uece.br'), undefined);
        assert.deepEqual(await look.findRole('Chefe-De-Departamento@dc.uece.br'), {
          address: 'chefe-de-departamento@dc.uece.br',
          holder: 'suzana@dc.uece.br',
          description: 'head of department',
        });
        assert.equal(await look.findRole('nobody@dc.uece.br'), undefined);
        // seed §2: a new holder is seen by the very next lookup
        await c.dir.setRole('chefe-de-departamento@dc.uece.br', 'jacques@dc.uece.br');
        assert.equal((await look.findRole('chefe-de-departamento@dc.uece.br'))?.holder, 'jacques@dc.uece.br');
      }));
  });
}
