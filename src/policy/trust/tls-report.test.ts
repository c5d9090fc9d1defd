/**
 * Units of TLS-RPT (tls-report.ts): the `_smtp._tls` record (RFC 8460 §3: exactly one
 * v=TLSRPTv1 record, mailto: and https: destinations only) and the report's counts (§4.4).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildTlsReport, tlsRptDestinations } from './tls-report.js';

test('the _smtp._tls record: one v=TLSRPTv1 record with mailto: and https: destinations', () => {
  assert.deepEqual(tlsRptDestinations(['v=TLSRPTv1; rua=mailto:tls@example.com,https://r.example.com/in']), ['mailto:tls@example.com', 'https://r.example.com/in']);
  assert.deepEqual(tlsRptDestinations(['v=spf1 -all', 'v=TLSRPTv1;rua=mailto:a@b.example']), ['mailto:a@b.example']);
  assert.equal(tlsRptDestinations(['v=TLSRPTv1; rua=mailto:a@b.example', 'v=TLSRPTv1; rua=mailto:c@d.example']), undefined, 'two records: none');
  assert.equal(tlsRptDestinations(['v=TLSRPTv1; rua=http://plain.example/x,ftp://x']), undefined, 'only mailto: and https:');
  assert.equal(tlsRptDestinations(['v=TLSRPTv1']), undefined);
  assert.equal(tlsRptDestinations([]), undefined);
});

test('the report: one entry per policy, successes and failures counted, failures detailed', () => {
  const base = { domain: 'example.com', mxHost: 'mx.example.com', receivingIp: '192.0.2.1', info: '' };
  const r = buildTlsReport(
    [
      { ...base, policyType: 'tlsa', policyStrings: ['3 1 1 ab'], result: 'success', count: 3 },
      { ...base, policyType: 'tlsa', policyStrings: ['3 1 1 ab'], result: 'validation-failure', info: 'no match', count: 2 },
      { ...base, policyType: 'no-policy-found', policyStrings: [], result: 'success', count: 1 },
    ],
    { domain: 'example.com', day: '2026-12-04', submitter: 'mx.us.example', organization: 'us', contact: 'postmaster@us.example', reportId: 'r1' },
  );
  assert.deepEqual(r['date-range'], { 'start-datetime': '2026-12-04T00:00:00Z', 'end-datetime': '2026-12-04T23:59:59Z' });
  assert.deepEqual(r.policies, [
    {
      policy: { 'policy-type': 'tlsa', 'policy-string': ['3 1 1 ab'], 'policy-domain': 'example.com', 'mx-host': ['mx.example.com'] },
      summary: { 'total-successful-session-count': 3, 'total-failure-session-count': 2 },
      'failure-details': [{ 'result-type': 'validation-failure', 'receiving-mx-hostname': 'mx.example.com', 'receiving-ip': '192.0.2.1', 'failed-session-count': 2, 'failure-reason-code': 'no match' }],
    },
    {
      policy: { 'policy-type': 'no-policy-found', 'policy-domain': 'example.com', 'mx-host': ['mx.example.com'] },
      summary: { 'total-successful-session-count': 1, 'total-failure-session-count': 0 },
    },
  ]);
});
