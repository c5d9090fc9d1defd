/**
 * JMAP request handling without HTTP: request validation, result references with JSON Pointer
 * and "*", method errors, implicit calls (RFC 8620 §3); and the composer's encoded words.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MethodError, evaluatePointer, parseRequest, runCalls, type JmapMethod } from './jmap-protocol.js';
import { composeMessage, encodeWords } from '../../protocol/mime/compose-message.js';
import { parseEmail } from './email-parse.js';

const core = 'urn:ietf:params:jmap:core';

void test('JSON Pointer with "*" maps over arrays and flattens (RFC 8620 §3.7)', () => {
  const v = { list: [{ threadId: 't1', ids: ['a', 'b'] }, { threadId: 't2', ids: ['c'] }] };
  assert.deepEqual(evaluatePointer(v, '/list/*/threadId'), ['t1', 't2']);
  assert.deepEqual(evaluatePointer(v, '/list/*/ids'), ['a', 'b', 'c']);
  assert.equal(evaluatePointer(v, '/list/1/threadId'), 't2');
  assert.throws(() => evaluatePointer(v, '/nope'), (e: unknown) => e instanceof MethodError && e.type === 'invalidResultReference');
});

void test('request validation: notRequest, unknownCapability, limit', () => {
  const known = new Set([core]);
  assert.equal((parseRequest([], known, 2) as { type: string }).type, 'urn:ietf:params:jmap:error:notRequest');
  assert.equal((parseRequest({ using: ['x'], methodCalls: [] }, known, 2) as { type: string }).type, 'urn:ietf:params:jmap:error:unknownCapability');
  const tooMany = parseRequest({ using: [core], methodCalls: [['a', {}, '1'], ['b', {}, '2'], ['c', {}, '3']] }, known, 2) as { type: string; limit: string };
  assert.deepEqual([tooMany.type, tooMany.limit], ['urn:ietf:params:jmap:error:limit', 'maxCallsInRequest']);
  assert.equal((parseRequest({ using: [core], methodCalls: [['a', [], '1']] }, known, 2) as { type: string }).type, 'urn:ietf:params:jmap:error:notRequest');
});

void test('calls run in order; references, errors, serverFail and implicit calls', async () => {
  const failures: string[] = [];
  const methods = new Map<string, JmapMethod>([
    ['T/list', { capability: core, run: () => Promise.resolve({ ids: ['x', 'y'] }) }],
    ['T/echo', { capability: core, run: (a) => Promise.resolve(a) }],
    ['T/bad', { capability: core, run: () => Promise.reject(new MethodError('invalidArguments', 'no')) }],
    ['T/bug', { capability: core, run: () => Promise.reject(new Error('bug')) }],
    [
      'T/chain',
      {
        capability: core,
        run: async (_a, ctx) => {
          await ctx.also('T/echo', { implicit: true });
          return { done: true };
        },
      },
    ],
  ]);
  const r = await runCalls(
    {
      using: [core],
      calls: [
        ['T/list', {}, 'a'],
        ['T/echo', { '#got': { resultOf: 'a', name: 'T/list', path: '/ids' } }, 'b'],
        ['T/echo', { got: 1, '#got': { resultOf: 'a', name: 'T/list', path: '/ids' } }, 'c'],
        ['T/bad', {}, 'd'],
        ['T/bug', {}, 'e'],
        ['T/chain', {}, 'f'],
        ['T/none', {}, 'g'],
      ],
    },
    methods,
    's1',
    (_e, m) => failures.push(m),
  );
  assert.deepEqual(r.methodResponses, [
    ['T/list', { ids: ['x', 'y'] }, 'a'],
    ['T/echo', { got: ['x', 'y'] }, 'b'],
    ['error', { type: 'invalidArguments', description: 'both "got" and "#got" are given' }, 'c'],
    ['error', { type: 'invalidArguments', description: 'no' }, 'd'],
    ['error', { type: 'serverFail', description: 'the server failed to run this method; the error is in its log' }, 'e'],
    ['T/chain', { done: true }, 'f'],
    ['T/echo', { implicit: true }, 'f'],
    ['error', { type: 'unknownMethod', description: 'T/none is not a method here (or its capability is not in "using")' }, 'g'],
  ]);
  assert.deepEqual(failures, ['T/bug']);
  assert.equal(r.sessionState, 's1');
});

void test('composed messages parse back: encoded words, alternative bodies, attachment names', () => {
  assert.equal(encodeWords('plain text'), 'plain text');
  assert.match(encodeWords('Relatório'), /^=\?UTF-8\?B\?[A-Za-z0-9+/=]+\?=$/);
  const raw = composeMessage({
    from: [{ name: 'Zé', email: 'ze@example.org' }],
    to: [{ email: 'a@example.org' }],
    subject: 'Olá\r\nBcc: injected@example.org',
    text: 'texto',
    html: '<p>texto</p>',
    attachments: [{ type: 'application/pdf', data: Buffer.from('%PDF'), name: 'relatório.pdf' }],
    domain: 'example.org',
  });
  const text = raw.toString();
  assert.doesNotMatch(text, /^Bcc:/m, 'no header injection through a value');
  const p = parseEmail(raw, 'bX');
  assert.deepEqual(p.textBody.map((x) => x.type), ['text/plain']);
  assert.deepEqual(p.htmlBody.map((x) => x.type), ['text/html']);
  assert.equal(p.attachments[0].name, 'relatório.pdf');
  assert.equal(p.text(p.textBody[0].partId!)?.value, 'texto');
  assert.equal(p.octets(p.attachments[0].partId!)?.toString(), '%PDF');
});
