import { test } from 'node:test';
import assert from 'node:assert/strict';
import { enhancedStatusTitles } from './enhanced-status.js';
import { replies } from './replies.js';

// Every factory is called with plausible arguments; the reply's enhanced code must be one the
// registry table knows (RFC 3463 §2: subject.detail), and its class must match the basic code's
// first digit (RFC 3463 §2: "the class ... shall match the SMTP reply code").
const sample: Record<string, unknown[]> = {
  greeting: ['mx.example'],
  closing: ['mx.example'],
  queued: ['ID'],
  verified: ['a@example.org'],
  expansion: [['a@example.org']],
  serviceUnavailable: ['mx.example'],
  tooManyConnections: ['mx.example'],
  commandTimeout: ['mx.example'],
  tooManyErrors: ['mx.example'],
  tooManyAuthFailures: ['mx.example'],
  helo: ['mx.example'],
  ehlo: ['mx.example', ['PIPELINING']],
  chunkReceived: [10],
  saslChallenge: [''],
};

test('every reply factory sends a registered enhanced code of its own class', () => {
  const problems: string[] = [];
  for (const [name, factory] of Object.entries(replies)) {
    const r = (factory as (...a: unknown[]) => { code: number; status?: string })(...(sample[name] ?? []));
    if (r.status === undefined) continue;
    const [cls, ...rest] = r.status.split('.');
    if (Number(cls) !== Math.floor(r.code / 100)) problems.push(`${name}: ${r.code} ${r.status} (class)`);
    if (!(rest.join('.') in enhancedStatusTitles)) problems.push(`${name}: ${r.status} not in the table`);
  }
  assert.deepEqual(problems, []);
});

test('the table has only subject.detail keys with a title', () => {
  for (const [key, title] of Object.entries(enhancedStatusTitles)) {
    assert.match(key, /^[0-7]\.\d{1,3}$/);
    assert.ok(title.length > 0);
  }
});
