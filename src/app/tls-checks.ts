/**
 * @module tls-checks
 * `correio check`'s findings about the TLS certificate (smtp.tls_cert/tls_key, or the one made
 * under data_dir/tls at the first start): not a PEM certificate, expired or not yet valid,
 * expiring within 14 days, a key that is not the certificate's, names that do not cover
 * `hostname` (the name this server gives in its greeting and EHLO, and the MX name clients check).
 * Standards: RFC 5280 §4.1.2.5 (validity); RFC 8314 §4.2 (clients check the certificate);
 *   RFC 6125 §6.4 (DNS-ID in subjectAltName first, the CN only when there is none; a wildcard
 *   covers one leftmost label); RFC 8461 §4.2 (MTA-STS senders require the MX name to match).
 * Security: read-only; the private key is read to compare it with the certificate and never
 *   printed.
 * Limitations: only the first certificate of the chain (the server's) is judged; the names are
 *   compared with `hostname` only (a site that also answers as other names is not told about
 *   them).
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Check, CheckFinding } from './check-types.js';

/** A certificate expiring sooner than this is a warning. */
const EXPIRY_WARNING_MS = 14 * 86_400_000;

function day(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** The DNS names of a certificate: its subjectAltName DNS entries, else its CN (RFC 6125 §6.4.4). */
function certificateNames(cert: X509Certificate): string[] {
  const san = (cert.subjectAltName ?? '').split(', ').filter((n) => n.startsWith('DNS:')).map((n) => n.slice(4));
  if (san.length > 0) return san;
  const cn = /^CN=(.*)$/m.exec(cert.subject)?.[1];
  return cn !== undefined ? [cn] : [];
}

/** The certificate must be valid now and for 14 more days, and its key must be the one configured. */
export const checkTlsCertificate: Check = async ({ config, now }) => {
  const configured = config.smtp.tlsCert !== undefined && config.smtp.tlsKey !== undefined;
  const certPath = configured ? config.smtp.tlsCert : join(config.dataDir, 'tls', 'cert.pem');
  const keyPath = configured ? config.smtp.tlsKey : join(config.dataDir, 'tls', 'key.pem');
  const certKey = configured ? 'smtp.tls_cert' : 'the generated certificate';
  const keyKey = configured ? 'smtp.tls_key' : 'the generated key';
  let certPem: Buffer;
  let keyPem: Buffer;
  try {
    certPem = readFileSync(certPath);
    keyPem = readFileSync(keyPath);
  } catch {
    return []; // unreadable configured files are checkConfiguredFiles' finding; none generated yet is fine
  }
  const out: CheckFinding[] = [];
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch (err) {
    return [{ level: 'error', message: `${certKey}: ${certPath} is not a PEM certificate (${(err as Error).message}): name the server's certificate chain file` }];
  }
  const t = (now ?? Date.now)();
  const from = Date.parse(cert.validFrom);
  const to = Date.parse(cert.validTo);
  const renew = `renew it (e.g. certbot renew) and run correio reload`;
  if (to <= t) out.push({ level: 'error', message: `${certKey}: ${certPath} expired on ${day(to)}: clients refuse it; ${renew}` });
  else if (from > t) out.push({ level: 'error', message: `${certKey}: ${certPath} is not valid before ${day(from)}: check the clock or the certificate` });
  else if (to - t < EXPIRY_WARNING_MS) out.push({ level: 'warning', message: `${certKey}: ${certPath} expires on ${day(to)}, in ${Math.ceil((to - t) / 86_400_000)} day(s): ${renew}` });
  // RFC 6125 §6.4.4: the CN counts only when the certificate has no DNS name
  if (cert.checkHost(config.hostname, { subject: 'default' }) === undefined) {
    const names = certificateNames(cert);
    const fix = configured
      ? `get a certificate for ${config.hostname} (e.g. certbot certonly -d ${config.hostname}) or set hostname to the name it is for, then correio reload`
      : `remove ${join(config.dataDir, 'tls')} so that serve makes one for ${config.hostname} at its next start, or configure smtp.tls_cert and smtp.tls_key`;
    out.push({
      level: configured ? 'error' : 'warning',
      message: `${certKey}: ${certPath} is for ${names.length > 0 ? names.join(', ') : 'no DNS name'}, not for hostname ${config.hostname}: clients that check names (submission clients, MTA-STS senders) refuse it; ${fix}`,
    });
  }
  try {
    if (!cert.checkPrivateKey(createPrivateKey(keyPem))) {
      out.push({ level: 'error', message: `${keyKey}: ${keyPath} is not the key of the certificate ${certPath}: name the key the certificate was made for` });
    }
  } catch (err) {
    out.push({ level: 'error', message: `${keyKey}: ${keyPath} is not a PEM private key (${(err as Error).message})` });
  }
  return out;
};
