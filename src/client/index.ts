/**
 * @module client
 * The SMTP/LMTP client: one session with one server (EHLO/HELO/LHLO, PIPELINING, STARTTLS,
 * AUTH, per-recipient replies), reply parsing and the outgoing dot-stuffer.
 * Standards: RFC 5321, RFC 2920, RFC 3207, RFC 4954, RFC 2033, RFC 3461, RFC 6152, RFC 1870.
 * Security: the server is untrusted; see smtp-client.ts. Limitations: no BDAT sending.
 */
export * from './smtp-client.js';
export * from './smtp-client-types.js';
export * from './smtp-commands.js';
export * from './reply-reader.js';
export * from './dot-stuffer.js';
