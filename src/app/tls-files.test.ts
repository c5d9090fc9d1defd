import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import tls from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../config/index.js';
import { loadOrMakeTls } from './tls-files.js';

const openssl = spawnSync('openssl', ['version']).status === 0;

test('the self-signed certificate names the host, localhost and the loopback addresses: a client trusting it verifies 127.0.0.1', { skip: !openssl && 'openssl is not installed' }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'correio-tls-'));
  try {
    const made = await loadOrMakeTls(parseConfig(`hostname = "mx.example.org"\ndata_dir = ${JSON.stringify(dir)}\n`, { file: join(dir, 'c.toml'), baseDir: dir }));
    assert.ok(!('error' in made), 'error' in made ? made.error : '');
    assert.ok(made.generated);
    const san = new X509Certificate(made.cert).subjectAltName ?? '';
    for (const n of ['DNS:mx.example.org', 'DNS:localhost', 'IP Address:127.0.0.1', 'IP Address:0:0:0:0:0:0:0:1']) assert.ok(san.split(', ').includes(n), `${n} in ${san}`);
    // what a client does: connect to 127.0.0.1 trusting the file, the name checked as given
    const server = tls.createServer({ key: made.key, cert: made.cert }, (s) => s.end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as { port: number }).port;
      await new Promise<void>((resolve, reject) => {
        const c = tls.connect({ host: '127.0.0.1', port, ca: made.cert }, () => {
          c.destroy();
          resolve();
        });
        c.on('error', reject);
      });
    } finally {
      server.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
