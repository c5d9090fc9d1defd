/**
 * @module enhanced-status
 * The RFC 3463 enhanced status codes correio uses, with their registry titles.
 * A test (enhanced-status.test.ts) checks that every code a reply factory sends has an entry
 * here, in the class its basic code asks for, so that no code is invented or mistyped.
 * Standards: RFC 3463, RFC 5248 (IANA registry), RFC 7504, RFC 6531, RFC 7372, RFC 4954.
 * Security: none. Limitations: only the codes correio sends are listed.
 */

/** subject.detail → registry title (class-independent) */
export const enhancedStatusTitles: Readonly<Record<string, string>> = {
  '0.0': 'Other undefined Status',
  '1.0': 'Other address status',
  '1.1': 'Bad destination mailbox address',
  '1.2': 'Bad destination system address',
  '1.3': 'Bad destination mailbox address syntax',
  '1.5': 'Destination address valid',
  '1.6': 'Destination mailbox has moved, No forwarding address',
  '1.7': 'Bad sender\'s mailbox address syntax',
  '1.8': 'Bad sender\'s system address',
  '1.10': 'Recipient address has null MX',
  '2.0': 'Other or undefined mailbox status',
  '2.1': 'Mailbox disabled, not accepting messages',
  '2.2': 'Mailbox full',
  '2.3': 'Message length exceeds administrative limit',
  '2.4': 'Mailing list expansion problem',
  '3.0': 'Other or undefined mail system status',
  '3.1': 'Mail system full',
  '3.2': 'System not accepting network messages',
  '3.4': 'Message too big for system',
  '3.5': 'System incorrectly configured',
  '4.0': 'Other or undefined network or routing status',
  '4.1': 'No answer from host',
  '4.2': 'Bad connection',
  '4.3': 'Directory server failure',
  '4.4': 'Unable to route',
  '4.6': 'Routing loop detected',
  '4.7': 'Delivery time expired',
  '5.0': 'Other or undefined protocol status',
  '5.1': 'Invalid command',
  '5.2': 'Syntax error',
  '5.3': 'Too many recipients',
  '5.4': 'Invalid command arguments',
  '5.5': 'Wrong protocol version',
  '5.6': 'Authentication Exchange line is too long',
  '6.0': 'Other or undefined media error',
  '6.3': 'Conversion required but not supported',
  '6.7': 'Non-ASCII addresses not permitted for that sender/recipient',
  '7.0': 'Other or undefined security status',
  '7.1': 'Delivery not authorized, message refused',
  '7.8': 'Authentication credentials invalid',
  '7.9': 'Authentication mechanism is too weak',
  '7.11': 'Encryption required for requested authentication mechanism',
};
