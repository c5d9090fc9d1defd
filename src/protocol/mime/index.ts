/**
 * @module mime
 * Message format codecs: header blocks, trace headers, DSN composition and parsing, feedback
 * report (ARF) parsing, and 8-bit → 7-bit conversion. Pure: streams in, streams out, no sockets or files.
 * Standards: RFC 5322, RFC 2045-2049, RFC 3464, RFC 5965, RFC 6522, RFC 6533, RFC 6152.
 * Security: header blocks are read with a size cap; bodies are streamed.
 * Limitations: see each module.
 */
export * from './header-block.js';
export * from './trace-headers.js';
export * from './dsn.js';
export * from './dsn-parts.js';
export * from './parse-dsn.js';
export * from './parse-arf.js';
export * from './to-7bit.js';
export * from './transfer-decoding.js';
