/**
 * @module report-post
 * Sends a report by HTTPS POST, for TLS-RPT's https: destinations.
 * Standards: RFC 8460 §5.4 (POST, Content-Type application/tlsrpt+gzip, a 2xx is success; no
 *   redirects followed).
 * Security: the server certificate is checked against Node's CA store plus the extra CAs given
 *   (the operator's `delivery.mta_sts_ca`); the answer body is read and dropped, at most 64 KiB.
 * Limitations: one attempt, 30 s.
 */
import https from 'node:https';
import tls from 'node:tls';

export function postReport(url: string, body: Buffer, contentType: string, extraCa: readonly string[] = []): Promise<void> {
  const u = new URL(url);
  if (u.protocol !== 'https:') return Promise.reject(new Error(`not an https URL: ${url}`));
  return new Promise<void>((resolve, reject) => {
    const req = https.request(
      u,
      {
        method: 'POST',
        headers: { 'content-type': contentType, 'content-length': body.length },
        timeout: 30_000,
        rejectUnauthorized: true,
        ...(extraCa.length > 0 ? { ca: [...tls.rootCertificates, ...extraCa] } : {}),
      },
      (res) => {
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > 64 * 1024) req.destroy(new Error('answer over 64 KiB'));
        });
        res.on('end', () => {
          const code = res.statusCode ?? 0;
          if (code >= 200 && code < 300) resolve();
          else reject(new Error(`HTTP status ${code}`));
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}
