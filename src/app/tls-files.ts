/**
 * @module tls-files
 * The certificate the SMTP, POP3, IMAP and HTTPS services use: the configured one, or a
 * self-signed one made under `<data_dir>/tls/` at first start for the host name, localhost,
 * 127.0.0.1 and ::1 (the operator is told, and should replace it).
 * Standards: RFC 3207 / RFC 8314 (TLS for SMTP), RFC 2595 (POP3 STLS).
 * Security: the generated key is written with mode 0600.
 * Limitations: generating needs the `openssl` command; without it, TLS stays off and the
 *   operator is told.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Config } from '../config/index.js';

const run = promisify(execFile);

export interface TlsFiles {
  key: Buffer;
  cert: Buffer;
  /** whether it was generated just now */
  generated: boolean;
  path: { key: string; cert: string };
}

export async function loadOrMakeTls(config: Config): Promise<TlsFiles | { error: string }> {
  if (config.smtp.tlsCert && config.smtp.tlsKey) {
    return {
      key: await readFile(config.smtp.tlsKey),
      cert: await readFile(config.smtp.tlsCert),
      generated: false,
      path: { key: config.smtp.tlsKey, cert: config.smtp.tlsCert },
    };
  }
  const dir = join(config.dataDir, 'tls');
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  let generated = false;
  if (!existsSync(key) || !existsSync(cert)) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    try {
      await run('openssl', [
        // an EC key: made in milliseconds, and every TLS client here speaks ECDSA
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert,
        '-days', '3650', '-subj', `/CN=${config.hostname}`,
        // the loopback names too, so that a client on this machine (the quick start's IMAP on
        // 127.0.0.1:2143) can trust this file and still check the name it connected to
        '-addext', `subjectAltName=DNS:${config.hostname},DNS:localhost,IP:127.0.0.1,IP:::1`,
      ], { timeout: 60000 });
      await chmod(key, 0o600);
      generated = true;
    } catch (err) {
      return { error: `no TLS certificate configured and openssl could not make one: ${err instanceof Error ? err.message : String(err)}` };
    }
  }
  return { key: await readFile(key), cert: await readFile(cert), generated, path: { key, cert } };
}
