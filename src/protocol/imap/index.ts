/**
 * @module protocol/imap
 * Pure IMAP codecs, no sockets: the command parser (tags, atoms, strings, literals, lists,
 * sequence sets, FETCH items, SEARCH keys), response values and their encoding, the MIME tree
 * of a message with ENVELOPE and BODYSTRUCTURE, and modified UTF-7 mailbox names.
 * Standards: RFC 9051, RFC 3501 (compatibility), RFC 7888 (LITERAL+), RFC 2045/2046 (MIME).
 * Security: see each module (every count and nesting is bounded). Limitations: see each module.
 */
export { ImapReader, ImapSyntaxError } from './imap-reader.js';
export { parseImapCommand, parseDateTime, formatDateTime, type ImapCommand, type ParsedCommand, type StatusItem, type QresyncParams, type SearchReturn, type ListReturn, type AppendMessage, type CatPart } from './imap-command.js';
export { parseImapUrl, type ImapMessageUrl } from './imap-url.js';
export { readFetchItems, sectionLabel, type FetchItem, type BodySection } from './fetch-items.js';
export { readSearchKeys, type SearchKey } from './search-key.js';
export { partialSlice, formatPartialRange, type PartialRange } from './search-return.js';
export {
  parseSequenceSet,
  inSequenceSet,
  formatSequenceSet,
  maxRanges,
  mergeRanges,
  rangesOf,
  intersectRanges,
  subtractNumbers,
  formatRanges,
  savedResult,
  isSavedResult,
  type SequenceSet,
  type SeqRange,
} from './sequence-set.js';
export { encodeValue, encodeValueBuffer, atom, astring, ImapAtom, ImapEncoded, ImapLiteral, ImapRun, type ImapValue } from './imap-value.js';
export { parseMimeTree, parseMimeTreeStream, findPart, parseParams, type MimePart, type ContentType } from './mime-tree.js';
export { messageText, bodyText, headerBlockText, decodeEncodedWords, charsetDecoder, textPieces, type TextPiece } from './message-text.js';
export { envelopeOf, addressList, addressTexts, firstDisplayName, firstMailbox } from './envelope.js';
export { bodyStructure } from './body-structure.js';
export { encodeMutf7, decodeMutf7 } from './mutf7.js';
export { literalAtEnd } from './literal-at-end.js';
export { baseSubject } from './base-subject.js';
export { compareForSort, sentTime, asciiUpper, type SortCriterion, type SortFields, type SortKey, type ThreadAlgorithm } from './sort-order.js';
export { threadOrderedSubject, threadReferences, formatThreads, type ThreadMessage, type ThreadNode } from './thread.js';
