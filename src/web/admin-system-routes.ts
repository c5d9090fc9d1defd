/**
 * @module admin-system-routes
 * The admin API's views of the whole system: `resolve` (an address's expansion tree and its
 * targets, as `correio resolve --json`), the config check (`correio check`), the DNS records a
 * domain needs with its DKIM keys (`correio dns records`), the mail log's tail, and the mail
 * activity per minute (received, delivered, deferred, bounced) for the dashboard's chart.
 * Standards: seed §2 (a directory with a query interface); RFC 6376 §3.6.2.1, RFC 7208,
 *   RFC 7489 (records, see policy/trust/dns-records.ts).
 * Security: behind the admin API's authorize; read-only but for DKIM key generation (a new key,
 *   never overwriting one: 400); DKIM answers carry public keys only.
 * Limitations: the log tail and the activity are what this process kept in memory since it
 *   started (the last hour of activity).
 */
import type { Hono } from 'hono';
import type { WebEnv } from './http-auth.js';
import { AdminError, targetJson } from '../admin/index.js';
import { defaultSelector, dnsRecords, isKeyName, zoneTxt } from '../policy/index.js';
import { jsonBody, stringField, type AdminApiDeps } from './admin-request.js';

/** Lines of log a tail returns at most. */
const MAX_TAIL = 1000;

function localDomain(deps: AdminApiDeps, text: string): string {
  const d = text.toLowerCase().replace(/\.$/, '');
  if (!isKeyName(d)) throw new AdminError(`not a domain name: ${text}`);
  const config = deps.config();
  if (!config.localDomains.includes(d)) throw new AdminError(`${d} is not in local_domains (${config.localDomains.join(', ')}): its MX would not point here`, 'not-found');
  return d;
}

export function systemRoutes(app: Hono<WebEnv>, deps: AdminApiDeps): void {
  app.get('/resolve/:address', async (c) => {
    const address = c.req.param('address');
    const r = await deps.explain(address);
    return c.json({ address, tree: r.tree, targets: r.targets.map(targetJson) });
  });

  app.get('/check', async (c) => {
    const findings = await deps.checkConfig();
    return c.json({ ok: findings.every((f) => f.level !== 'error'), findings });
  });

  app.get('/domains/:domain/dns', async (c) => c.json(dnsRecords(deps.config(), localDomain(deps, c.req.param('domain')), await deps.dkim.keys())));

  app.get('/domains/:domain/dkim', async (c) => {
    const records = dnsRecords(deps.config(), localDomain(deps, c.req.param('domain')), await deps.dkim.keys());
    return c.json(records.filter((r) => r.name.includes('._domainkey.')).map((r) => ({ selector: r.name.slice(0, r.name.indexOf('._domainkey.')), ...r })));
  });

  // as `correio dkim keygen`: a new key (a file under the data directory, or PostgreSQL's) and the TXT record to publish
  app.post('/domains/:domain/dkim', async (c) => {
    const domain = localDomain(deps, c.req.param('domain'));
    const body = await jsonBody(c);
    const algorithm = stringField(body, 'algorithm', true) ?? 'rsa-2048';
    if (algorithm !== 'ed25519' && algorithm !== 'rsa-2048') throw new AdminError(`algorithm: expected ed25519 or rsa-2048, not ${JSON.stringify(algorithm)}`);
    const selector = (stringField(body, 'selector', true) ?? defaultSelector()).toLowerCase();
    let made: { name: string; value: string };
    try {
      made = await deps.dkim.make(domain, selector, algorithm);
    } catch (err) {
      throw new AdminError((err as Error).message.replace(/: \/.*$/, ''));
    }
    return c.json({ selector, algorithm, name: made.name, value: made.value, zone: zoneTxt(made.name, made.value), note: 'publish the record; the key signs after the next start or reload (with PostgreSQL storage: on every node within seconds)' }, 201);
  });

  app.get('/log', (c) => {
    if (!deps.logTail) throw new AdminError('no mail log is kept in this process', 'not-found');
    const text = c.req.query('lines') ?? '100';
    const n = Number(text);
    if (!Number.isInteger(n) || n < 1 || n > MAX_TAIL) throw new AdminError(`lines must be a whole number from 1 to ${MAX_TAIL}`);
    return c.json(deps.logTail(n));
  });

  app.get('/activity', (c) => {
    if (!deps.activity) throw new AdminError('no activity is counted in this process', 'not-found');
    const n = Number(c.req.query('minutes') ?? '60');
    if (!Number.isInteger(n) || n < 1 || n > 60) throw new AdminError('minutes must be a whole number from 1 to 60');
    return c.json(deps.activity(n));
  });
}
