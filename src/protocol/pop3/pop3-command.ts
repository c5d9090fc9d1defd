/**
 * @module pop3-command
 * Parsing one POP3 command line (without its CRLF) into a typed command, or the -ERR to give.
 * Standards: RFC 1939 §3 (case-insensitive keywords, SP-separated arguments), §4-§7 (commands
 *   and their arguments); RFC 2449 §5 (CAPA); RFC 2595 §4 (STLS); RFC 5034 §4 (AUTH).
 * Security: everything is hostile. Message numbers are plain decimal digits only ("1", not
 *   "+1", "0x1", "1e3"), at most 9 digits; NUL and other control characters are refused.
 *   Line length is enforced before parsing (server/connection, 255 octets per RFC 2449 §4).
 * Limitations: APOP and LAST are not offered (answered "unknown command"). The 40-character
 *   argument limit of RFC 1939 §3 is not enforced: full addresses and passwords can be longer.
 */
import { pop3Responses } from './pop3-responses.js';
import type { Pop3Response } from './pop3-response.js';

export type Pop3Command =
  | { readonly verb: 'USER'; readonly name: string }
  | { readonly verb: 'PASS'; readonly password: string }
  /** no mechanism: list the mechanisms (a common client probe); initialResponse as sent (base64 or "=") */
  | { readonly verb: 'AUTH'; readonly mechanism?: string; readonly initialResponse?: string }
  | { readonly verb: 'STAT' | 'NOOP' | 'RSET' | 'QUIT' | 'CAPA' | 'STLS' }
  | { readonly verb: 'LIST' | 'UIDL'; readonly msg?: number }
  | { readonly verb: 'RETR' | 'DELE'; readonly msg: number }
  | { readonly verb: 'TOP'; readonly msg: number; readonly lines: number };

export type Pop3ParseResult =
  | { readonly ok: true; readonly command: Pop3Command }
  | { readonly ok: false; readonly response: Pop3Response };

const noArgs = new Set(['STAT', 'NOOP', 'RSET', 'QUIT', 'CAPA', 'STLS']);

function fail(response: Pop3Response): Pop3ParseResult {
  return { ok: false, response };
}
function done(command: Pop3Command): Pop3ParseResult {
  return { ok: true, command };
}

/** A message number: RFC 1939 §3 "message-number", 1-based decimal. */
function messageNumber(s: string): number | undefined {
  if (!/^[0-9]{1,9}$/.test(s)) return undefined;
  const n = Number(s);
  return n >= 1 ? n : undefined;
}

/** A non-negative line count for TOP (RFC 1939 §7); very large values are capped, not refused. */
function lineCount(s: string): number | undefined {
  if (!/^[0-9]{1,15}$/.test(s)) return undefined;
  return Number(s);
}

/** Parses a command line (CRLF already removed; decoded as UTF-8). */
export function parsePop3Command(line: string): Pop3ParseResult {
  // RFC 1939 §3: printable ASCII plus SP; we let UTF-8 through (passwords) but no controls.
  if (/[\x00-\x08\x0a-\x1f\x7f]/.test(line)) return fail(pop3Responses.syntaxError('invalid characters in command'));
  if (line.trim() === '') return fail(pop3Responses.unknownCommand());

  const sp = line.indexOf(' ');
  const verb = (sp < 0 ? line : line.slice(0, sp)).toUpperCase();
  const rest = sp < 0 ? '' : line.slice(sp + 1);

  // RFC 1939 §7 note: a password may contain spaces, so PASS takes the rest of the line as is.
  if (verb === 'PASS') {
    if (rest === '') return fail(pop3Responses.syntaxError('PASS needs a password'));
    return done({ verb: 'PASS', password: rest });
  }

  const args = rest.split(/[ \t]+/).filter((a) => a !== '');

  if (noArgs.has(verb)) {
    if (args.length !== 0) return fail(pop3Responses.syntaxError(`${verb} takes no arguments`));
    return done({ verb: verb as 'STAT' });
  }

  switch (verb) {
    case 'USER':
      if (args.length !== 1) return fail(pop3Responses.syntaxError('USER needs one name'));
      return done({ verb: 'USER', name: args[0] });
    case 'AUTH': {
      // RFC 5034 §4: AUTH mechanism [initial-response]
      if (args.length === 0) return done({ verb: 'AUTH' });
      if (args.length > 2) return fail(pop3Responses.syntaxError('AUTH takes a mechanism and an optional initial response'));
      const mechanism = args[0].toUpperCase();
      if (!/^[A-Z0-9_-]{1,20}$/.test(mechanism)) return fail(pop3Responses.syntaxError('invalid mechanism name'));
      return args.length === 2 ? done({ verb: 'AUTH', mechanism, initialResponse: args[1] }) : done({ verb: 'AUTH', mechanism });
    }
    case 'LIST':
    case 'UIDL': {
      if (args.length === 0) return done({ verb });
      if (args.length > 1) return fail(pop3Responses.syntaxError(`${verb} takes at most one message number`));
      const msg = messageNumber(args[0]);
      if (msg === undefined) return fail(pop3Responses.syntaxError('invalid message number'));
      return done({ verb, msg });
    }
    case 'RETR':
    case 'DELE': {
      if (args.length !== 1) return fail(pop3Responses.syntaxError(`${verb} needs one message number`));
      const msg = messageNumber(args[0]);
      if (msg === undefined) return fail(pop3Responses.syntaxError('invalid message number'));
      return done({ verb, msg });
    }
    case 'TOP': {
      if (args.length !== 2) return fail(pop3Responses.syntaxError('TOP needs a message number and a line count'));
      const msg = messageNumber(args[0]);
      if (msg === undefined) return fail(pop3Responses.syntaxError('invalid message number'));
      const lines = lineCount(args[1]);
      if (lines === undefined) return fail(pop3Responses.syntaxError('invalid line count'));
      return done({ verb: 'TOP', msg, lines });
    }
    default:
      return fail(pop3Responses.unknownCommand());
  }
}
