/**
 * @module cli-address
 * How the directory commands read an address argument: one rule for `user`, `list` and `role`.
 * Standards: RFC 5321 §2.3.11 (mailbox = local-part@domain).
 * Security: an entry that delivery follows (a list's member or owner, a role's holder) is read
 *   by resolve's parseDirectoryTarget, the rule the resolver and the list transport apply, so
 *   the CLI never stores a "|command" or "/file" that looks like an address.
 * Limitations: none.
 */
import { normalizeDirectoryAddress } from '../directory/index.js';
import { parseDirectoryTarget } from '../resolve/index.js';
import { CliError, exitCodes } from './cli-context.js';

/** local-part@domain, normalised; otherwise a line naming `label` and EX_DATAERR (65). */
export function cliAddress(text: string, label: string): string {
  const a = normalizeDirectoryAddress(text);
  if (a === undefined) throw new CliError(`invalid ${label} "${text}": expected local-part@domain`, exitCodes.dataErr);
  return a;
}

/**
 * An address that delivery will follow: `what`/`plural` name the entry in the reason
 * ("a list member", "members"); alias-target forms are refused with 65.
 */
export function cliTargetAddress(text: string, label: string, what: string, plural: string): string {
  const t = parseDirectoryTarget(text, what, plural);
  if (!t.ok) throw new CliError(`invalid ${label} "${text}": ${t.reason}`, exitCodes.dataErr);
  return cliAddress(text, label);
}
