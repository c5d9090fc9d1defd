/**
 * @module dkim-command
 * `correio dkim keygen DOMAIN [--selector S] [--algorithm ed25519|rsa-2048]` makes a DKIM key
 * where the configuration keeps them (data_dir/dkim, or PostgreSQL's dkim_keys: app/dkim-keyring.ts) and prints the TXT record to publish; `correio dns records DOMAIN`
 * prints every DNS record the domain needs from the live configuration: MX, SPF, one DKIM
 * record per key, TLSA for the SMTP certificate, MTA-STS and TLS-RPT, and a DMARC suggestion.
 * Standards: RFC 6376 §3.6.2.1 (SELECTOR._domainkey), RFC 8463 (Ed25519 keys), RFC 7208 §3
 *   (SPF TXT), RFC 7489 §6.3 (DMARC record), RFC 5321 §5.1 (MX), RFC 1035 §5.1 (zone file
 *   syntax; a TXT value longer than 255 octets is written as several quoted strings).
 * Security: the key file is 0600 in a 0700 folder and never overwritten (policy/trust); a row
 *   in PostgreSQL is never overwritten either.
 * Limitations: the records are printed, not published; a key file takes effect for signing at
 *   the next start or `correio reload`, a key in PostgreSQL at every node's next refresh.
 */
import type { Command } from 'commander';
import { loadSigningKeys, makeDkimKey, sharedStorage } from '../../app/index.js';
import { MailError } from '../../core/index.js';
import { defaultSelector, domainRecords, isKeyName, zoneTxt } from '../../policy/index.js';
import { CliError, exitCodes, type CliContext } from '../cli-context.js';

/** sysexits(3) EX_CANTCREAT: the key exists already */
const EX_CANTCREAT = 73;
/** sysexits(3) EX_UNAVAILABLE: PostgreSQL did not answer */
const EX_UNAVAILABLE = 69;

export function register(program: Command, ctx: CliContext): void {
  const dkim = program.command('dkim').description('DKIM signing keys (docs/trust.md)');
  dkim
    .command('keygen')
    .description('make a DKIM key for DOMAIN (under the data directory, or in PostgreSQL with [storage] url = postgres://…) and print the TXT record to publish')
    .argument('<domain>', 'the From domain the key signs for')
    .option('--selector <selector>', 'the selector (default: s + year and month, e.g. s202612)')
    .option('--algorithm <algorithm>', 'ed25519 or rsa-2048', 'rsa-2048')
    .action(async (domain: string, opts: { selector?: string; algorithm: string }, cmd: Command) => {
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
        made = await makeDkimKey(config, d, selector, opts.algorithm);
      } catch (err) {
        const m = (err as Error).message;
        throw new CliError(m, /exists already/.test(m) ? EX_CANTCREAT : err instanceof MailError ? EX_UNAVAILABLE : exitCodes.dataErr);
      }
      const when = sharedStorage(config) ? 'every node signs with it within seconds' : 'it signs after the next start or correio reload';
      ctx.stderr.write(`correio: key written to ${made.where} (${opts.algorithm}); ${when}\n`);
      ctx.print(`; publish before the key signs: DKIM (RFC 6376) selector ${selector} of ${d}`);
      ctx.print(zoneTxt(made.name, made.value));
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
