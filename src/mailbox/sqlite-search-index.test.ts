/**
 * The full-text index on SQLite FTS5 trigrams: any part of a word, case and accents folded,
 * every string required, accounts apart, removal, short strings narrowing nothing, and a
 * client's query syntax taken as plain text.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SqliteSearchIndex, ftsQuery } from './sqlite-search-index.js';

void test('strings anywhere in the text, folded; all required; accounts apart; removed ids gone', async () => {
  const ix = new SqliteSearchIndex(':memory:');
  await ix.add('a', [
    { id: 'e1', text: 'Relatório do mês\nPascal <pascal@example.net>' },
    { id: 'e2', text: 'Reunião de orçamento' },
  ]);
  await ix.add('b', [{ id: 'e9', text: 'Relatório secreto' }]);
  assert.deepEqual(await ix.search('a', ['relatorio']), new Set(['e1']), 'accents folded');
  assert.deepEqual(await ix.search('a', ['RELAT']), new Set(['e1']), 'a word start, any case');
  assert.deepEqual(await ix.search('a', ['atório']), new Set(['e1']), 'inside a word');
  assert.deepEqual(await ix.search('a', ['cal@example.n']), new Set(['e1']), 'inside an address');
  assert.deepEqual(await ix.search('a', ['relatório', 'reunião']), new Set(), 'every string');
  assert.deepEqual(await ix.search('a', ['relatório', 'de']), new Set(['e1']), 'a short string narrows nothing');
  assert.deepEqual(await ix.search('a', ['de']), new Set(['e1', 'e2']), 'only short strings: every id');
  assert.deepEqual(await ix.search('b', ['relatório']), new Set(['e9']), "only b's own");
  assert.deepEqual(await ix.indexed('a'), new Set(['e1', 'e2']));
  await ix.remove('a', ['e1']);
  assert.deepEqual(await ix.search('a', ['relatório']), new Set());
  await ix.close();
});

void test("FTS5 syntax in a client's strings is quoted, never run", async () => {
  assert.equal(ftsQuery(['a" OR b*', 'NEAR(x y)']), '"a"" OR b*" AND "NEAR(x y)"');
  assert.equal(ftsQuery(['  ', 'ab']), undefined);
  const ix = new SqliteSearchIndex(':memory:');
  await ix.add('a', [{ id: 'e1', text: 'x' }]);
  assert.deepEqual(await ix.search('a', ['" OR account:*']), new Set(), 'no error, no match');
  await ix.close();
});
