/**
 * @module protocol/pop3
 * Pure POP3 wire codecs, no sockets: command parsing, responses, the
 * dot-stuffing stream for RETR/TOP.
 * Standards: RFC 1939, RFC 2449, RFC 2595, RFC 3206, RFC 5034, RFC 4616.
 * Security: see each module. Limitations: see each module.
 */
export * from './pop3-response.js';
export * from './pop3-responses.js';
export * from './pop3-command.js';
export * from './pop3-dot-stuffer.js';
