/**
 * @module dkim-command
 * `correio dkim keygen DOMAIN [--selector S] [--algorithm ed25519|rsa-2048] [--inactive]` makes a DKIM key
 * where the configuration keeps them (data_dir/dkim, or PostgreSQL's dkim_keys: app/dkim-keyring.ts) and prints
 * the TXT record to publish; `dkim activate|deactivate DOMAIN SELECTOR` (PostgreSQL) starts or
 * stops a key's signing on every node (a rotation); `dkim list` names every key; and
 * `correio dns records DOMAIN` prints every DNS record the domain needs from the live configuration: MX, SPF, one DKIM
 * record per key, TLSA for the SMTP certificate, MTA-STS and TLS-RPT, and a DMARC suggestion.
 * Standards: RFC 6376 §3.6.2.1 (SELECTOR._domainkey), RFC 8463 (Ed25519 keys), RFC 7208 §3
 *   (SPF TXT), RFC 7489 §6.3 (DMARC record), RFC 5321 §5.1 (MX), RFC 1035 §5.1 (zone file
 *   syntax; a TXT value longer than 255 octets is written as several quoted strings).
 * Security: the key file is 0600 in a 0700 folder and never overwritten (policy/trust); a row
 *   in PostgreSQL is never overwritten either; no command prints a private key.
 * Limitations: the records are printed, not published; a key file takes effect for signing at
 *   the next start or `correio reload`, a key in PostgreSQL at every node's next refresh.
 */
import type { Command } from 'commander';
import { KeyStateError, listDkimKeys, loadSigningKeys, makeDkimKey, setDkimKeyActive, sharedStorage } from '../../app/index.js';
import { MailError } from '../../core/index.js';
import { defaultSelector, domainRecords, isKeyName, zoneTxt } from '../../policy/index.js';
import { CliError, exitCodes, type CliContext } from '../cli-context.js';

/** sysexits(3) EX_CANTCREAT: the key exists already */
const EX_CANTCREAT = 73;
/** sysexits(3) EX_UNAVAILABLE: PostgreSQL did not answer */
const EX_UNAVAILABLE = 69;

/** A key operation's failure as one line: exists (73), PostgreSQL away (69), bad state or names (65). */
function keyError(err: unknown): CliError {
  const m = (err as Error).message;
  if (err instanceof KeyStateError) return new CliError(m, exitCodes.dataErr);
  return new CliError(m, /exists already/.test(m) ? EX_CANTCREAT : err instanceof MailError ? EX_UNAVAILABLE : exitCodes.dataErr);
}

export function register(program: Command, ctx: CliContext): void {
  const dkim = program.command('dkim').description('DKIM signing keys (docs/trust.md)');
  dkim
    .command('keygen')
    .description('make a DKIM key for DOMAIN (under the data directory, or in PostgreSQL with [storage] url = postgres://…) and print the TXT record to publish')
    .argument('<domain>', 'the From domain the key signs for')
    .option('--selector <selector>', 'the selector (default: s + year and month, e.g. s202612)')
    .option('--algorithm <algorithm>', 'ed25519 or rsa-2048', 'rsa-2048')
    .option('--inactive', 'PostgreSQL storage: keep it from signing until `correio dkim activate` (publish its record first)')
    .action(async (domain: string, opts: { selector?: string; algorithm: string; inactive?: boolean }, cmd: Command) => {
      const config = ctx.config(cmd);
      if (opts.algorithm !== 'ed25519' && opts.algorithm !== 'rsa-2048') {
        throw new CliError(`--algorithm: expected ed25519 or rsa-2048, not ${JSON.stringify(opts.algorithm)}`, exitCodes.usage);
      }
      const d = domain.toLowerCase().replace(/\.$/, '');
      if (!isKeyName(d)) throw new CliError(`not a domain name: ${domain}`, exitCodes.usage);
      const selector = opts.selector ?? defaultSelector();
      if (!isKeyName(selector.toLowerCase())) throw new CliError(`--selector: not a selector (letters, digits, hyphens, dots): ${selector}`, exitCodes.usage);
      let made;
      try {
        made = await makeDkimKey(config, d, selector, opts.algorithm, { inactive: opts.inactive === true });
      } catch (err) {
        throw keyError(err);
      }
      const when = opts.inactive ? `it signs once \`correio dkim activate ${d} ${selector.toLowerCase()}\`` : sharedStorage(config) ? 'every node signs with it within seconds' : 'it signs after the next start or correio reload';
      ctx.stderr.write(`correio: key written to ${made.where} (${opts.algorithm}); ${when}\n`);
      ctx.print(`; publish before the key signs: DKIM (RFC 6376) selector ${selector} of ${d}`);
      ctx.print(zoneTxt(made.name, made.value));
    });

  for (const [name, active] of [['activate', true], ['deactivate', false]] as const) {
    dkim
      .command(name)
      .description(active ? 'PostgreSQL storage: DOMAIN\'s key SELECTOR signs on every node from now on (publish its record first)' : 'PostgreSQL storage: DOMAIN\'s key SELECTOR stops signing on every node (keep its record published a few days)')
      .argument('<domain>')
      .argument('<selector>')
      .action(async (domain: string, selector: string, _opts: unknown, cmd: Command) => {
        try {
          await setDkimKeyActive(ctx.config(cmd), domain, selector, active);
        } catch (err) {
          throw keyError(err);
        }
        ctx.stderr.write(`correio: ${domain.toLowerCase()}/${selector.toLowerCase()} ${active ? 'signs' : 'no longer signs'} on every node within seconds\n`);
      });
  }
  dkim
    .command('list')
    .description('every DKIM key: DOMAIN SELECTOR ALGORITHM active|inactive file|postgres (no private key is printed)')
    .option('--json', 'a JSON array')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const keys = await listDkimKeys(ctx.config(cmd)).catch((err: unknown) => {
        throw keyError(err);
      });
      if (opts.json) ctx.print(JSON.stringify(keys));
      else if (keys.length === 0) ctx.print('No DKIM keys yet: correio dkim keygen DOMAIN makes one');
      else for (const k of keys) ctx.print(`${k.domain} ${k.selector} ${k.algorithm} ${k.active ? 'active' : 'inactive'} ${k.where}`);
    });

  program
    .command('dns')
    .description('DNS records a domain needs')
    .command('records')
    .description('print every DNS record DOMAIN needs (MX, SPF, DKIM, TLSA, MTA-STS, TLS-RPT, DMARC) from the live configuration')
    .argument('<domain>', 'a local domain')
    .action(async (domain: string, _opts: unknown, cmd: Command) => {
      const config = ctx.config(cmd);
      const d = domain.toLowerCase().replace(/\.$/, '');
      if (!isKeyName(d)) throw new CliError(`not a domain name: ${domain}`, exitCodes.usage);
      if (!config.localDomains.includes(d)) {
        throw new CliError(`${d} is not in local_domains (${config.localDomains.join(', ')}): its MX would not point here`, exitCodes.dataErr);
      }
      for (const line of domainRecords(config, d, (await loadSigningKeys(config)).keys)) ctx.print(line);
    });
}
