/**
 * @module dkim-checks
 * `correio check`'s findings about the DKIM keys under data_dir/dkim and, with PostgreSQL
 * storage, in its dkim_keys (read-only, as the signer merges them: dkim-keyring.ts): files that are not keys,
 * keys other users may read, local domains left unsigned while others have keys, and keys whose
 * published record (SELECTOR._domainkey.DOMAIN TXT) is missing or carries another public key.
 * Standards: RFC 6376 §3.6.1 (the key record's p=), §3.6.2.1 (its name); RFC 8463 §4.2.
 * Security: read-only; private keys are never printed. DNS answers are only compared.
 * Limitations: DNS is asked through delivery.dns_servers (or the system's) with a short timeout;
 *   when it does not answer, the records are not compared and check says so (a warning), so an
 *   offline machine is not an error.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { formatListenAddress } from '../config/index.js';
import { DnsResolver, type TxtResult } from '../dns/index.js';
import { dkimKeyDir, keyRecordName, keyRecordValue, loadDkimKeys, type SigningKey } from '../policy/index.js';
import { isPostgresUrl } from '../util/index.js';
import type { Check, CheckFinding } from './check-types.js';
import { loadSigningKeys } from './dkim-keyring.js';

/** The p= of a DKIM key record, whitespace removed (RFC 6376 §3.6.1: FWS may appear in it). */
function publicKeyOf(record: string): string | undefined {
  const tag = record.split(';').map((t) => t.trim()).find((t) => /^p\s*=/.test(t));
  return tag?.slice(tag.indexOf('=') + 1).replace(/\s+/g, '');
}

/** Key files (and their folders) that someone besides their owner may read. */
function openPermissions(root: string): string[] {
  const out: string[] = [];
  let domains: string[];
  try {
    domains = readdirSync(root);
  } catch {
    return out;
  }
  for (const d of domains.sort()) {
    const dir = join(root, d);
    let files: string[];
    try {
      if (!statSync(dir).isDirectory()) continue;
      files = readdirSync(dir);
    } catch {
      continue;
    }
    for (const f of files.sort()) {
      if (!f.endsWith('.pem')) continue;
      const file = join(dir, f);
      const mode = statSync(file).mode & 0o777;
      if ((mode & 0o077) !== 0) out.push(`${file}: mode ${mode.toString(8).padStart(4, '0')} lets other users read the private key: chmod 600 ${file}`);
    }
    if (files.every((f) => !f.endsWith('.pem'))) out.push(`${dir}: no key file (SELECTOR.pem) for ${d}: make one with correio dkim keygen ${d}, or remove the folder`);
  }
  return out;
}

/**
 * Key files must be keys readable by correio only; with signing on, every local domain should
 * have one once any has; each key's public half must be what DNS publishes for its selector.
 */
export const checkDkimKeys: Check = async ({ config, findTxt }) => {
  const out: CheckFinding[] = [];
  const files = loadDkimKeys(config.dataDir);
  let { keys, problems } = files;
  if (isPostgresUrl(config.storage.url)) {
    try {
      ({ keys, problems } = await loadSigningKeys(config, { readOnly: true }));
    } catch (err) {
      out.push({ level: 'warning', message: `DKIM keys in PostgreSQL not read (${(err as Error).message}); only the key files were checked` });
    }
  }
  // where a key is, for the messages: its file, unless PostgreSQL's key of that name won
  const placeOf = (k: SigningKey): string => {
    const file = files.keys.get(k.domain)?.find((f) => f.selector === k.selector);
    return file?.privateKey.equals(k.privateKey) ? join(dkimKeyDir(config.dataDir), k.domain, `${k.selector}.pem`) : `the key of selector ${k.selector} in PostgreSQL's dkim_keys`;
  };
  for (const p of problems) out.push({ level: 'error', message: `DKIM key ${p}: replace it (correio dkim keygen) or remove it` });
  for (const p of openPermissions(dkimKeyDir(config.dataDir))) out.push({ level: 'error', message: `DKIM key ${p}` });
  if (keys.size === 0) return out;
  if (config.mailAuth.dkimSign) {
    for (const d of config.localDomains) {
      if (!keys.has(d)) out.push({ level: 'warning', message: `mail_auth.dkim_sign: ${d} has no DKIM key, so its mail goes out unsigned: correio dkim keygen ${d}` });
    }
  }
  const lookup = findTxt ?? defaultTxtLookup(config.delivery.dnsServers.map(formatListenAddress));
  for (const list of keys.values()) {
    for (const k of list) {
      const name = keyRecordName(k.domain, k.selector);
      const want = publicKeyOf(keyRecordValue(k.privateKey));
      const r = await lookup(name);
      if (r.kind === 'temporary') {
        out.push({ level: 'warning', message: `DKIM: DNS did not answer for ${name} TXT (${r.error}); the published keys were not compared` });
        return out; // offline: one line, not one per key
      }
      const published = r.kind === 'found' ? r.records.filter((t) => /^\s*v\s*=\s*DKIM1/i.test(t) || /(^|;)\s*p\s*=/.test(t)) : [];
      if (published.length === 0) {
        out.push({ level: 'warning', message: `DKIM: ${name} TXT is not published, so receivers cannot verify ${k.domain}'s signatures: publish the record correio dns records ${k.domain} prints` });
      } else if (!published.some((t) => publicKeyOf(t) === want)) {
        out.push({ level: 'error', message: `DKIM: ${name} TXT publishes another public key than ${placeOf(k)}: signatures fail; publish the record correio dns records ${k.domain} prints` });
      }
    }
  }
  return out;
};

function defaultTxtLookup(servers: string[]): (name: string) => Promise<TxtResult> {
  const dns = new DnsResolver({ servers, timeoutMs: 2000, tries: 1 });
  return (name) => dns.findTxt(name);
}
