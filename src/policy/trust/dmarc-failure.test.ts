/**
 * RFC 7489 §6.3 fo: which evaluations ask for a failure report; and the parsed record's ruf/fo.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { failureWanted } from './dmarc-failure.js';
import { parseDmarcRecord } from './dmarc.js';

void test('fo=0 on DMARC failure only; fo=1 when any identifier did not align; d and s on the mechanism failing', () => {
  const e = (o: Partial<Parameters<typeof failureWanted>[1]>) => ({ dmarcFailed: false, dkimAligned: true, spfAligned: true, dkimFailed: false, spfFailed: false, ...o });
  assert.equal(failureWanted(['0'], e({ dmarcFailed: true, dkimAligned: false, spfAligned: false })), true);
  assert.equal(failureWanted(['0'], e({ spfAligned: false })), false, 'DMARC passed through DKIM');
  assert.equal(failureWanted(['1'], e({ spfAligned: false })), true);
  assert.equal(failureWanted(['d'], e({ dkimFailed: true })), true);
  assert.equal(failureWanted(['s'], e({ spfFailed: false })), false);
  assert.equal(failureWanted(['0', 's'], e({ spfFailed: true })), true);
  const r = parseDmarcRecord('v=DMARC1; p=none; ruf=mailto:a@x.test!5m, https://no.test/; fo=1:d:x');
  assert.deepEqual(r?.ruf, ['mailto:a@x.test']);
  assert.deepEqual(r?.fo, ['1', 'd']);
  assert.deepEqual(parseDmarcRecord('v=DMARC1; p=none')?.fo, ['0']);
});
