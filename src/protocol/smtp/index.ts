/**
 * @module protocol-smtp
 * Pure SMTP wire codecs, no sockets: command lines and parameters, reply encoding, the DATA
 * reader (dot-unstuffing, end-of-data, smuggling flags) and BDAT chunks.
 * Standards: RFC 5321, RFC 1870, RFC 2034, RFC 3030, RFC 3461, RFC 6152, RFC 6531.
 * Security: see each module. Limitations: see each module.
 */
export {
  parseCommandLine,
  parseMailCommand,
  parseRcptCommand,
  parseBdatArgs,
  parseEsmtpParams,
  splitPathAndParams,
  decodeXtext,
  encodeXtext,
  type CommandLine,
  type EsmtpParam,
  type MailCommand,
  type RcptCommand,
  type ParseOptions,
} from './smtp-command.js';
export { encodeReply } from './encode-reply.js';
export {
  DataDecoder,
  DataReader,
  replyForFlaw,
  type DataFlaw,
  type DataDecoderOptions,
  type DecodeResult,
} from './data-decoder.js';
export { BdatReader, TextChecker, type ChunkResult } from './bdat-reader.js';
