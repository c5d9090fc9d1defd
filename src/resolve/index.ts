/**
 * @module resolve
 * Expansion of a recipient to typed targets: aliases, roles, lists, includes, pipes, files,
 * catch-all, sub-addresses; recursion limit, dedup, loop detection, local/remote decision.
 * Standards: seed §2, §2.1; RFC 5321 §3.9, §4.5.1; RFC 2919 (list ids). Security: see each module.
 * Limitations: see each module.
 */
export {
  AliasResolver,
  parseRecipientArgument,
  type AliasResolverOptions,
  type ExpansionKind,
  type ExpansionNode,
  type Explanation,
} from './alias-resolver.js';
export { findCycles, type AliasCycle } from './find-cycles.js';
export { type DanglingTarget } from './find-dangling.js';
export { listOwnerAddress, listLocalFromOwner, listIdFor } from './list-names.js';
export { parseDirectoryTarget, parseListMember, type ListMember } from './list-member.js';
export { parseTargetString, splitCommand, splitIncludeText, type ParsedTarget } from './target-syntax.js';
export {
  defaultTargetPolicy,
  readIncludeFile,
  type IncludeFile,
  type TargetClass,
  type TargetOrigin,
  type TargetPolicy,
} from './include-policy.js';
