/**
 * @module transport
 * The transports: local (Maildir), smtp and lmtp, list (re-injection), pipe, file, webhook
 * (HTTP), error.
 * Standards: see each module. Security: see each module. Limitations: see each module.
 */
export { MaildirTransport, deliveryHeaders, type MaildirTransportOptions } from './maildir-transport.js';
export { SmtpTransport, LmtpTransport, type SmtpTransportOptions } from './smtp-transport.js';
export { ListTransport, type ListTransportOptions } from './list-transport.js';
export { PipeTransport, parsePipeRoute, runAsUser, type PipeTransportOptions } from './pipe-transport.js';
export { FileTransport, type FileTransportOptions } from './file-transport.js';
export { ErrorTransport } from './error-transport.js';
export { MtaStsPolicies, mxMatches, stsRecordId, parseStsPolicy, type StsPolicy, type StsLookup, type StsMode, type StsCache } from './mta-sts.js';
export { SqliteStsCache } from './sqlite-sts-cache.js';
export { DanePolicies, verifyDane, tlsaMatches, usableTlsa, type DaneLookup } from './dane.js';
export { WebhookTransport, webhookSignature, signatureHeader, type WebhookTransportOptions } from './webhook-transport.js';
