/**
 * @module sendmail-args
 * sendmail's command line (the flags `correio sendmail` takes, listed in sendmail.ts's header),
 * parsed getopt style into SendmailOptions.
 * Standards: sendmail(8) and Postfix sendmail(1) command lines; RFC 3461 (-N, -R, -V).
 * Security: none (a pure parser).
 * Limitations: -bd, -bi/-I and -q with an interval are refused with status 64.
 */
import type { DsnParams } from '../../core/index.js';
import { CliError, exitCodes } from '../cli-context.js';

export interface SendmailOptions {
  mode: 'deliver' | 'smtp' | 'verify' | 'print' | 'flush';
  /** -t */
  extract: boolean;
  /** -i / -oi */
  ignoreDots: boolean;
  /** -f / -r, as given */
  from?: string;
  /** -F */
  fullName?: string;
  verbose: boolean;
  /** -C */
  config?: string;
  notify?: NonNullable<DsnParams['notify']>;
  ret?: 'FULL' | 'HDRS';
  envid?: string;
  body?: '7BIT' | '8BITMIME';
  recipients: string[];
}

const withArgument = new Set(['B', 'C', 'F', 'L', 'N', 'O', 'R', 'V', 'X', 'b', 'e', 'f', 'h', 'o', 'p', 'r']);
/** take only an attached value, if any (-d0.1, -q30m, -Am) */
const optionalAttached = new Set(['A', 'd', 'q']);
const ignoredFlags = new Set(['G', 'U', 'c', 'm', 'n', 'x', 's']);

export function usage(message: string): CliError {
  return new CliError(`sendmail: ${message}`, exitCodes.usage);
}

/**
 * Parses sendmail's command line (getopt style, options may follow recipients; `--` ends them).
 * Throws CliError 64 for unknown or incomplete options.
 */
export function parseSendmailArgs(args: readonly string[]): SendmailOptions {
  const o: SendmailOptions = { mode: 'deliver', extract: false, ignoreDots: false, verbose: false, recipients: [] };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--') {
      o.recipients.push(...args.slice(i + 1));
      break;
    }
    if (a === '--config') {
      i++; // taken by the main program (commander)
      continue;
    }
    if (a.startsWith('--config=')) continue;
    if (a.startsWith('--')) throw usage(`unknown option ${a}`);
    if (!a.startsWith('-') || a === '-') {
      o.recipients.push(a);
      continue;
    }
    for (let j = 1; j < a.length; j++) {
      const f = a[j];
      if (withArgument.has(f)) {
        let value = a.slice(j + 1);
        if (value === '') {
          if (i + 1 >= args.length) throw usage(`option -${f} needs a value`);
          value = args[++i];
        }
        applyValue(o, f, value);
        break;
      }
      if (optionalAttached.has(f)) {
        const value = a.slice(j + 1);
        if (f === 'q') {
          if (value !== '' && /^\d/.test(value)) throw usage('-q with an interval (a queue daemon) is not supported: use correio serve');
          o.mode = 'flush';
        }
        break;
      }
      switch (f) {
        case 't':
          o.extract = true;
          break;
        case 'i':
          o.ignoreDots = true;
          break;
        case 'v':
          o.verbose = true;
          break;
        case 'I':
          throw usage('-I (rebuild the aliases database) is not supported: use correio newaliases');
        default:
          if (!ignoredFlags.has(f)) throw usage(`unknown option -${f}`);
      }
    }
  }
  return o;
}

function applyValue(o: SendmailOptions, flag: string, value: string): void {
  switch (flag) {
    case 'b':
      switch (value) {
        case 'm':
          o.mode = 'deliver';
          return;
        case 's':
          o.mode = 'smtp';
          return;
        case 'v':
          o.mode = 'verify';
          return;
        case 'p':
          o.mode = 'print';
          return;
        case 'd':
          throw usage('-bd (daemon mode) is not supported: use correio serve');
        case 'i':
          throw usage('-bi (rebuild the aliases database) is not supported: use correio newaliases');
        default:
          throw usage(`unsupported mode -b${value}`);
      }
    case 'f':
    case 'r':
      o.from = value;
      return;
    case 'F':
      o.fullName = value;
      return;
    case 'C':
      o.config = value;
      return;
    case 'o':
      // -oi as -i; every other -o option (-oem, -odi, -odb, -oQ…) is accepted and ignored
      if (value === 'i') o.ignoreDots = true;
      return;
    case 'N': {
      const words = value.toLowerCase().split(',').map((w) => w.trim());
      if (words.length === 1 && words[0] === 'never') o.notify = ['NEVER'];
      else if (words.every((w) => w === 'success' || w === 'failure' || w === 'delay')) {
        o.notify = words.map((w) => w.toUpperCase() as 'SUCCESS' | 'FAILURE' | 'DELAY');
      } else throw usage(`-N ${value}: expected never, or a list of success, failure, delay`);
      return;
    }
    case 'R': {
      const v = value.toUpperCase();
      if (v !== 'FULL' && v !== 'HDRS') throw usage(`-R ${value}: expected full or hdrs`);
      o.ret = v;
      return;
    }
    case 'V':
      o.envid = value;
      return;
    case 'B': {
      const v = value.toUpperCase();
      if (v !== '7BIT' && v !== '8BITMIME') throw usage(`-B ${value}: expected 7BIT or 8BITMIME`);
      o.body = v;
      return;
    }
    default:
      return; // -e -h -L -O -p -X: accepted and ignored
  }
}
