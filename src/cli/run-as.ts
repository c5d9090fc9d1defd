/**
 * @module run-as
 * Root running a CLI command on the data directory becomes its owner (`run_as`) first, so that it
 * leaves no root-owned file in the spool or the database that the server could not read
 * (app/privileges.ts). serve does it itself, after binding its ports.
 * Standards: setuid(2).
 * Security: for good (real, effective and saved ids); nothing in a CLI command needs root after.
 * Limitations: none.
 */
import type { Config } from '../config/index.js';
import { assumePrivileges, planPrivileges } from '../app/index.js';

export function becomeDataDirOwner(config: Config): void {
  if (process.getuid?.() !== 0) return;
  const plan = planPrivileges(config);
  if (plan.kind === 'drop') assumePrivileges(plan, config.dataDir).dropForGood();
}
