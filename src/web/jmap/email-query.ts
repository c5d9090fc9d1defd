/**
 * @module email-query
 * Email/query filters and sorts (RFC 8621 §4.4) evaluated over the account's view: the Maildir
 * conditions (mailbox, dates, size, keywords) from the records, the content conditions (text,
 * from, to, cc, bcc, subject, body, header, hasAttachment) from the parsed messages.
 * Standards: RFC 8621 §4.4.1 (FilterCondition), §4.4.2 (sorting), RFC 8620 §5.5 (FilterOperator
 *   AND/OR/NOT, position, anchor, anchorOffset, limit, calculateTotal).
 * Security: text is matched as a plain case-insensitive substring (no patterns from clients).
 * Limitations: content conditions read each candidate message (the full-text index narrows
 *   the candidates of text conditions: email-search.ts).
 */
import { findHeader } from '../../protocol/mime/index.js';
import { MethodError, type Args } from './jmap-protocol.js';
import { asText, parseAddresses, parseDate } from './email-parse.js';
import { plainText, type MessageCache } from './email-read.js';
import { keywordsOf, type EmailRecord } from './mail-view.js';

const recordKeys = new Set(['inMailbox', 'inMailboxOtherThan', 'before', 'after', 'minSize', 'maxSize', 'hasKeyword', 'notKeyword', 'allInThreadHaveKeyword', 'someInThreadHaveKeyword', 'noneInThreadHaveKeyword']);
const contentKeys = new Set(['text', 'from', 'to', 'cc', 'bcc', 'subject', 'body', 'header', 'hasAttachment']);

/** A compiled filter; `sync` when it needs no message content (evaluated without awaiting, for large folders). */
export type Matcher = ((e: EmailRecord) => Promise<boolean>) & { sync?: (e: EmailRecord) => boolean };

function withSync(m: (e: EmailRecord) => Promise<boolean>, sync: ((e: EmailRecord) => boolean) | undefined): Matcher {
  return Object.assign(m, sync && { sync });
}

const norm = (s: string): string => s.normalize('NFKC').toLowerCase();

function time(v: unknown, key: string): number {
  const t = typeof v === 'string' ? Date.parse(v) : NaN;
  if (Number.isNaN(t)) throw new MethodError('invalidArguments', `${key} must be a UTCDate`);
  return t;
}

/** Compiles a Filter (RFC 8620 §5.5) to a predicate; unknown conditions are unsupportedFilter. */
export function compileFilter(filter: unknown, cache: MessageCache): Matcher {
  if (filter === undefined || filter === null) return withSync(() => Promise.resolve(true), () => true);
  if (typeof filter !== 'object' || Array.isArray(filter)) throw new MethodError('invalidArguments', 'filter must be an object');
  const f = filter as Args;
  if ('operator' in f) {
    const subs = f.conditions;
    if (!Array.isArray(subs)) throw new MethodError('invalidArguments', 'a FilterOperator needs conditions');
    const ms = subs.map((s) => compileFilter(s, cache));
    const syncs = ms.every((m) => m.sync) ? ms.map((m) => m.sync!) : undefined;
    switch (f.operator) {
      case 'AND':
        return withSync(async (e) => {
          for (const m of ms) if (!(await m(e))) return false;
          return true;
        }, syncs && ((e) => syncs.every((m) => m(e))));
      case 'OR':
        return withSync(async (e) => {
          for (const m of ms) if (await m(e)) return true;
          return false;
        }, syncs && ((e) => syncs.some((m) => m(e))));
      case 'NOT':
        return withSync(async (e) => {
          for (const m of ms) if (await m(e)) return false;
          return true;
        }, syncs && ((e) => !syncs.some((m) => m(e))));
      default:
        throw new MethodError('unsupportedFilter', `unknown operator ${String(f.operator)}`);
    }
  }
  const checks: ((e: EmailRecord) => boolean)[] = [];
  const content: ((text: (what: string) => string, hasAttachment: boolean) => boolean)[] = [];
  for (const [k, v] of Object.entries(f)) {
    if (!recordKeys.has(k) && !contentKeys.has(k)) throw new MethodError('unsupportedFilter', `unknown filter condition ${k}`);
    switch (k) {
      case 'inMailbox':
        checks.push((e) => e.mailboxId === v);
        break;
      case 'inMailboxOtherThan':
        if (!Array.isArray(v)) throw new MethodError('invalidArguments', 'inMailboxOtherThan must be an array');
        checks.push((e) => !v.includes(e.mailboxId));
        break;
      case 'before': {
        const t = time(v, k);
        checks.push((e) => e.receivedAt < t);
        break;
      }
      case 'after': {
        const t = time(v, k);
        checks.push((e) => e.receivedAt >= t);
        break;
      }
      case 'minSize':
        checks.push((e) => e.size >= Number(v));
        break;
      case 'maxSize':
        checks.push((e) => e.size < Number(v));
        break;
      case 'hasKeyword':
      case 'allInThreadHaveKeyword':
      case 'someInThreadHaveKeyword':
        checks.push((e) => keywordsOf(e.flags, e.keywords)[String(v).toLowerCase()] === true);
        break;
      case 'notKeyword':
      case 'noneInThreadHaveKeyword':
        checks.push((e) => keywordsOf(e.flags, e.keywords)[String(v).toLowerCase()] !== true);
        break;
      case 'hasAttachment':
        content.push((_t, has) => has === v);
        break;
      case 'header': {
        if (!Array.isArray(v) || v.length < 1 || v.length > 2) throw new MethodError('invalidArguments', 'header must be [name] or [name, value]');
        const [name, value] = v as string[];
        content.push((t) => {
          const h = t(`header:${name.toLowerCase()}`);
          return value === undefined ? h !== '\0' : h !== '\0' && h.includes(norm(value));
        });
        break;
      }
      default: {
        if (typeof v !== 'string') throw new MethodError('invalidArguments', `${k} must be a string`);
        const needle = norm(v);
        content.push((t) => (k === 'text' ? ['from', 'to', 'cc', 'bcc', 'subject', 'body'].some((w) => t(w).includes(needle)) : t(k).includes(needle)));
      }
    }
  }
  const records = (e: EmailRecord): boolean => checks.every((c) => c(e));
  return withSync(async (e) => {
    if (!records(e)) return false;
    if (content.length === 0) return true;
    const { parsed } = await cache.load(e);
    const texts = new Map<string, string>();
    const text = (what: string): string => {
      let t = texts.get(what);
      if (t === undefined) {
        if (what.startsWith('header:')) t = norm(findHeader(parsed.fields, what.slice(7)) ?? '\0');
        else if (what === 'subject') t = norm(asText(findHeader(parsed.fields, 'subject')) ?? '');
        else if (what === 'body') t = norm(plainText(parsed));
        else t = norm((parseAddresses(findHeader(parsed.fields, what)) ?? []).map((a) => `${a.name ?? ''} <${a.email}>`).join(', '));
        texts.set(what, t);
      }
      return t;
    };
    return content.every((c) => c(text, parsed.attachments.length > 0));
  }, content.length === 0 ? records : undefined);
}

/** A compiled sort; `sync` when every key is in the records (receivedAt, size, hasKeyword). */
type Comparator = ((a: EmailRecord, b: EmailRecord) => Promise<number>) & { sync?: (a: EmailRecord, b: EmailRecord) => number };

/** Compiles a sort (RFC 8621 §4.4.2); the default is newest first. */
export function compileSort(sort: unknown, cache: MessageCache): Comparator {
  const list = (sort ?? [{ property: 'receivedAt', isAscending: false }]) as Args[];
  if (!Array.isArray(list)) throw new MethodError('invalidArguments', 'sort must be an array of Comparators');
  const keyOf = async (e: EmailRecord, c: Args): Promise<string | number> => {
    switch (c.property) {
      case 'receivedAt':
        return e.receivedAt;
      case 'size':
        return e.size;
      case 'hasKeyword':
        return keywordsOf(e.flags, e.keywords)[String(c.keyword).toLowerCase()] ? 1 : 0;
      case 'subject':
        return norm((asText(findHeader((await cache.load(e)).parsed.fields, 'subject')) ?? '').replace(/^((re|fwd?|aw|sv)\s*:\s*)+/i, ''));
      case 'from':
      case 'to':
        return norm((parseAddresses(findHeader((await cache.load(e)).parsed.fields, c.property)) ?? [])[0]?.email ?? '');
      case 'sentAt':
        return parseDate(findHeader((await cache.load(e)).parsed.fields, 'date')) ?? '';
      default:
        throw new MethodError('unsupportedSort', `cannot sort by ${String(c.property)}`);
    }
  };
  for (const c of list) if (!['receivedAt', 'size', 'hasKeyword', 'subject', 'from', 'to', 'sentAt'].includes(String(c.property))) throw new MethodError('unsupportedSort', `cannot sort by ${String(c.property)}`);
  // equal keys: by id, in the first comparator's direction (so newest first is exactly the view's order reversed)
  const tie = list[0]?.isAscending === false ? -1 : 1;
  const cmp: Comparator = async (a, b) => {
    for (const c of list) {
      const [x, y] = [await keyOf(a, c), await keyOf(b, c)];
      if (x !== y) return (x < y ? -1 : 1) * (c.isAscending === false ? -1 : 1);
    }
    return (a.id < b.id ? -1 : a.id > b.id ? 1 : 0) * tie;
  };
  if (list.every((c) => ['receivedAt', 'size', 'hasKeyword'].includes(String(c.property)))) {
    const recordKey = (e: EmailRecord, c: Args): number => (c.property === 'receivedAt' ? e.receivedAt : c.property === 'size' ? e.size : keywordsOf(e.flags, e.keywords)[String(c.keyword).toLowerCase()] ? 1 : 0);
    cmp.sync = (a, b) => {
      for (const c of list) {
        const [x, y] = [recordKey(a, c), recordKey(b, c)];
        if (x !== y) return (x < y ? -1 : 1) * (c.isAscending === false ? -1 : 1);
      }
      return (a.id < b.id ? -1 : a.id > b.id ? 1 : 0) * tie;
    };
  }
  return cmp;
}

/** Sorts with an async comparator (merge sort: comparisons may read messages). */
export async function sortAsync<T>(items: T[], cmp: (a: T, b: T) => Promise<number>): Promise<T[]> {
  if (items.length < 2) return items;
  const mid = items.length >> 1;
  const [l, r] = [await sortAsync(items.slice(0, mid), cmp), await sortAsync(items.slice(mid), cmp)];
  const out: T[] = [];
  let i = 0;
  let j = 0;
  while (i < l.length && j < r.length) out.push((await cmp(l[i], r[j])) <= 0 ? l[i++] : r[j++]);
  return out.concat(l.slice(i), r.slice(j));
}
