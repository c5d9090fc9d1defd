/**
 * @module policy
 * Named checks per SMTP stage (connect, helo, mail, rcpt, data, end of data; VRFY/EXPN), each
 * returning a reply or passing: relay control, sender ownership, size and recipient limits,
 * connection limits, who may VRFY/EXPN — the place where DNSBL, SPF, DKIM and DMARC plug in.
 * Standards: see each module. Security: see each module. Limitations: see each module.
 *
 * Usage:
 *   const policies = smtpPolicyFromConfig(config, { directory, answers: verifier });
 *   new SmtpServer({ ..., policies });           // each listener runs its mode's StagePolicy
 *   const refusal = await policies.submission.mail({ session, sender, mail });
 */
export { firstRefusal, type Check } from './check.js';
export * from './checks.js';
export { SenderRules, DirectorySenderOwnership, senderRulesApply } from './sender-rules.js';
export { fromAddresses, addressesInDisplayText } from './from-addresses.js';
export { StagePolicy, buildSmtpPolicy, type InboundCheck, type SmtpPolicyOptions, type StageLists, type StagePolicyInit, type LookupAnswers, type AbuseChecks } from './smtp-policy.js';
export { DnsList, dnsListName, dnsBlocklist } from './dns-lists.js';
export { RateCounter, connectionRate, messageRate, recipientRate, userMessageRate } from './rate-limits.js';
export { GreylistStore, greylisting, greylistNet, type GreylistSettings } from './greylist.js';
export { smtpPolicyFromConfig, type PolicyLookups } from './policy-from-config.js';
export { MailboxVerifier, type MailboxVerifierOptions } from './mailbox-verifier.js';
export * from './trust/index.js';
