/**
 * The full-text index on SQLite FTS5: word starts, case and accents folded, every word
 * required, accounts apart, removal, and a client's query syntax taken as plain words.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SqliteSearchIndex, ftsQuery } from './sqlite-search-index.js';

void test('words at word starts, folded; all words required; accounts apart; removed ids gone', async () => {
  const ix = new SqliteSearchIndex(':memory:');
  await ix.add('a', [
    { id: 'e1', text: 'Relatório do mês\nPascal <pascal@example.net>' },
    { id: 'e2', text: 'Reunião de orçamento' },
  ]);
  await ix.add('b', [{ id: 'e9', text: 'Relatório secreto' }]);
  assert.deepEqual(await ix.search('a', ['relatorio']), new Set(['e1']), 'accents folded');
  assert.deepEqual(await ix.search('a', ['RELAT']), new Set(['e1']), 'a word start, any case');
  assert.deepEqual(await ix.search('a', ['atório']), new Set(), 'not inside a word');
  assert.deepEqual(await ix.search('a', ['pascal@example.net']), new Set(['e1']), 'an address is its words');
  assert.deepEqual(await ix.search('a', ['relatório reunião']), new Set(), 'every word');
  assert.deepEqual(await ix.search('b', ['relatório']), new Set(['e9']), "only b's own");
  assert.deepEqual(await ix.indexed('a'), new Set(['e1', 'e2']));
  await ix.remove('a', ['e1']);
  assert.deepEqual(await ix.search('a', ['relatório']), new Set());
  await ix.close();
});

void test("FTS5 syntax in a client's words is quoted, never run", async () => {
  assert.equal(ftsQuery(['a" OR b*', 'NEAR(x y)']), '"a"* AND "OR"* AND "b"* AND "NEAR"* AND "x"* AND "y"*');
  assert.equal(ftsQuery(['  ', '--']), undefined);
  const ix = new SqliteSearchIndex(':memory:');
  await ix.add('a', [{ id: 'e1', text: 'x' }]);
  assert.deepEqual(await ix.search('a', ['" OR account:*']), new Set(), 'no error, no match');
  await ix.close();
});
