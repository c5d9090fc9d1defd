/**
 * serviceLines: what serve prints on a terminal once started, one line per service, from the
 * addresses as bound (SMTP grouped by mode, IPv6 in brackets, HTTPS when TLS, nothing for a
 * service that is off).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serviceLines, type ServedAddresses } from './serve.js';

const app = (a: Partial<{ [K in keyof ServedAddresses]: ReturnType<ServedAddresses[K]> }>): ServedAddresses => ({
  smtpAddresses: () => a.smtpAddresses ?? [],
  imapAddresses: () => a.imapAddresses ?? [],
  pop3Addresses: () => a.pop3Addresses ?? [],
  httpAddresses: () => a.httpAddresses ?? [],
  metricsAddresses: () => a.metricsAddresses ?? [],
});

void test('one line per service, with every address it listens on', () => {
  assert.deepEqual(serviceLines(app({
    smtpAddresses: [
      { host: '127.0.0.1', port: 25, mode: 'mx' }, { host: '::1', port: 25, mode: 'mx' },
      { host: '127.0.0.1', port: 587, mode: 'submission' }, { host: '', port: 0, mode: 'lmtp', path: '/run/c/lmtp.sock' },
    ],
    imapAddresses: [{ host: '127.0.0.1', port: 143 }],
    httpAddresses: [{ host: '::1', port: 443, tls: true }],
    metricsAddresses: [{ host: '127.0.0.1', port: 9465 }],
  })), [
    'correio: smtp (mx) on 127.0.0.1:25, [::1]:25',
    'correio: smtp (submission) on 127.0.0.1:587',
    'correio: smtp (lmtp) on unix:/run/c/lmtp.sock',
    'correio: imap on 127.0.0.1:143',
    "correio: webmail at https://[::1]:443/ (log in with a mailbox's address and password)",
    'correio: admin console at https://[::1]:443/admin (for the accounts in [http] admins)',
    'correio: metrics at http://127.0.0.1:9465/metrics',
  ]);
});

void test('nothing served, nothing said', () => {
  assert.deepEqual(serviceLines(app({})), []);
});
