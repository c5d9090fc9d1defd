/**
 * Differential test against Dovecot (a reference nobody here wrote): the messages of
 * ../shared/corpora/messages are delivered into a Maildir by correio, the Maildir is copied for
 * Dovecot's imap binary (pre-authenticated on stdin/stdout, DESIGN.md §5), and the same FETCH
 * commands go to both. ENVELOPE, BODYSTRUCTURE, BODY[1.MIME] and RFC822.SIZE must be equal
 * per message (matched by an X-Corpus header added to each), and BODY[n.MIME] of every other
 * part (nested and inside message/rfc822 parts too) of each message whose BODYSTRUCTURE both
 * read alike, after these normalisations:
 * quoted strings and literals compare by their octets; ENVELOPE and BODYSTRUCTURE strings by
 * octets with runs of whitespace as one space (folded header values). The differences that
 * remain are listed by name in `known` with the reason, and the test fails when one of those
 * goes away (so the list stays true). Skips without the corpora or without Dovecot.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chmod, cp, readFile, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { Readable } from 'node:stream';
import { MaildirFolders, MaildirStore } from '../../src/mailbox/index.js';
import { parseMimeTree, type MimePart } from '../../src/protocol/imap/mime-tree.js';
import { ImapServer } from '../../src/server/imap/index.js';
import { LineClient } from '../helpers/net.js';
import { withTempDir } from '../helpers/temp-dir.js';
import { dovecotImap, runDovecot } from '../helpers/dovecot.js';
import { fileURLToPath } from 'node:url';
import { corpusMessageFiles } from '../helpers/corpus-messages.js';

const corpus = join(process.cwd(), '..', 'shared', 'corpora', 'messages');
const skip = !existsSync(corpus) ? `${corpus} is absent` : !existsSync(dovecotImap) ? `${dovecotImap} is absent (Debian package dovecot-imapd)` : false;
const user = 'suzana@dc.uece.br';
const items = ['ENVELOPE', 'BODYSTRUCTURE', 'BODY.PEEK[1.MIME]', 'RFC822.SIZE'];

/**
 * Messages that still differ, with the items that do and why (imap-dovecot-diff.known.json):
 * only where Dovecot's answer goes against an RFC (RFC 2045 §5.2 defaults for an invalid
 * Content-Type, RFC 2231 §4 extended parameters), each with the RFC reason. The test fails
 * when a message differs in other items, or no longer differs (update the file).
 */
type Known = Record<string, { differs: string; why: string }>;
const knownFile = fileURLToPath(new URL('../../../test/e2e/imap-dovecot-diff.known.json', import.meta.url));

const corpusFiles = (): Promise<string[]> => corpusMessageFiles(corpus);

/** Splits a response stream into whole responses (literals included), each as tokens. */
function tokenize(data: Buffer): string[][] {
  const out: string[][] = [];
  let cur: string[] = [];
  let i = 0;
  const norm = (b: Buffer): string => JSON.stringify(b.toString('latin1').replace(/\s+/g, ' ').trim());
  while (i < data.length) {
    const c = data[i];
    if (c === 0x0d && data[i + 1] === 0x0a) {
      out.push(cur);
      cur = [];
      i += 2;
    } else if (c === 0x20) i++;
    else if (c === 0x28 || c === 0x29) {
      cur.push(String.fromCharCode(c));
      i++;
    } else if (c === 0x22) {
      const bytes: number[] = [];
      for (i++; i < data.length && data[i] !== 0x22; i++) {
        if (data[i] === 0x5c) i++;
        bytes.push(data[i]);
      }
      i++;
      cur.push(norm(Buffer.from(bytes)));
    } else if ((c === 0x7b || c === 0x7e) && /^~?\{\d+\}\r\n/.test(data.toString('latin1', i, i + 16))) {
      const m = /^~?\{(\d+)\}\r\n/.exec(data.toString('latin1', i, i + 16))!;
      i += m[0].length;
      cur.push(norm(data.subarray(i, i + Number(m[1]))));
      i += Number(m[1]);
    } else {
      let j = i;
      let bracket = false;
      // "BODY[HEADER.FIELDS (X-CORPUS)]": a section with spaces and parentheses is one atom
      while (j < data.length && (bracket || ![0x20, 0x28, 0x29, 0x0d].includes(data[j]))) {
        if (data[j] === 0x5b) bracket = true;
        if (data[j] === 0x5d) bracket = false;
        j++;
      }
      cur.push(data.toString('latin1', i, j).toUpperCase().replace(/\.PEEK/, ''));
      i = j;
    }
  }
  return out;
}

/** Per X-Corpus name: the FETCH data items, as normalised text, from one session's output. */
function byMessage(data: Buffer): Map<string, Map<string, string>> {
  const out = new Map<string, Map<string, string>>();
  for (const r of tokenize(data)) {
    if (r[0] !== '*' || r[2] !== 'FETCH') continue;
    // "( name value name value )": values are balanced token runs
    const toks = r.slice(4, -1);
    const map = new Map<string, string>();
    for (let k = 0; k < toks.length; ) {
      const name = toks[k++];
      let depth = 0;
      const v: string[] = [];
      do {
        const t = toks[k++];
        if (t === '(') depth++;
        if (t === ')') depth--;
        v.push(t);
      } while (depth > 0 && k < toks.length);
      map.set(name, v.join(' '));
    }
    const id = /X-Corpus: ([^\s"]+)/.exec(map.get('BODY[HEADER.FIELDS (X-CORPUS)]') ?? '')?.[1];
    map.set('#', r[1]);
    if (id) out.set(id, new Map([...(out.get(id) ?? []), ...map]));
  }
  return out;
}

/**
 * The part numbers of a MIME tree below `prefix` (RFC 9051 §6.4.5): a multipart's parts 1, 2, ...;
 * a message/rfc822 part's embedded message numbered under it (its parts, or `.1` for its body);
 * a message that is not multipart has only part 1 (called for such a message only at the top).
 */
function partNumbers(part: MimePart, prefix: string): string[] {
  if (!part.children) return ['1'];
  const out: string[] = [];
  for (const [i, child] of part.children.entries()) {
    const n = prefix === '' ? String(i + 1) : `${prefix}.${i + 1}`;
    out.push(n);
    if (child.children) out.push(...partNumbers(child, n));
    else if (child.message) out.push(...(child.message.children ? partNumbers(child.message, n) : [`${n}.1`]));
  }
  return out;
}

/** FETCH commands of every part's MIME header, one per message of `seqs` (id → sequence number) with more than part 1. */
function partFetches(seqs: Map<string, Map<string, string>>, parts: (id: string) => readonly string[]): string[] {
  const out: string[] = [];
  for (const [id, m] of seqs) {
    const ps = parts(id);
    if (ps.length < 2) continue;
    out.push(`p${out.length} FETCH ${m.get('#')} (BODY.PEEK[HEADER.FIELDS (X-Corpus)] ${ps.map((n) => `BODY.PEEK[${n}.MIME]`).join(' ')})\r\n`);
  }
  return out;
}

void test('Dovecot and correio agree on ENVELOPE, BODYSTRUCTURE, every part\'s BODY[n.MIME] and RFC822.SIZE for the corpus messages', { skip }, () =>
  withTempDir('correio-dovecot-diff-', async (root) => {
    const store = new MaildirStore(join(root, 'correio'), { hostname: 'mx' });
    const files = await corpusFiles();
    /** each message's part numbers below the top (RFC 9051 §6.4.5), for BODY[n.MIME] */
    const partsOf = new Map<string, string[]>();
    for (const f of files) {
      const name = relative(corpus, f);
      const body = (await readFile(f)).toString('latin1').replace(/\r?\n/g, '\r\n');
      const octets = Buffer.from(`X-Corpus: ${name}\r\n${body}`, 'latin1');
      partsOf.set(name, partNumbers(parseMimeTree(octets), ''));
      await store.deliver(user, Readable.from([octets]), { uniqueKey: name.replace(/[^A-Za-z0-9]/g, '_') });
    }
    const folders = new MaildirFolders(store);
    const n = (await folders.sync(user, 'INBOX')).list.length;
    assert.equal(n, files.length);
    // Dovecot's copy: the same files (flags and all) in its home's Maildir
    const home = join(root, 'dovecot', 'home');
    const mine = store.mailboxPath(user, '');
    for (const sub of ['cur', 'new', 'tmp']) await cp(join(mine, sub), join(home, 'Maildir', sub), { recursive: true });
    // the unprivileged mail user must reach its home
    if (process.getuid?.() === 0) await chmod(root, 0o711);
    const fetch = `f FETCH 1:* (BODY.PEEK[HEADER.FIELDS (X-Corpus)] ${items.join(' ')})\r\n`;
    const dv = await runDovecot(home, ['s EXAMINE INBOX\r\n', fetch, 'l LOGOUT\r\n']);
    const theirs = byMessage(dv.out);
    assert.equal(theirs.size, files.length, `Dovecot answered for every message; its log:\n${dv.stderr}`);
    // every part's MIME header (BODY[n.MIME]) of the messages whose structure both read alike
    const known = JSON.parse(await readFile(knownFile, 'utf8')) as Known;
    const parts = (id: string): readonly string[] => (known[id]?.differs.includes('BODYSTRUCTURE') ? [] : (partsOf.get(id) ?? []));
    const dvParts = await runDovecot(home, ['s EXAMINE INBOX\r\n', ...partFetches(theirs, parts), 'l LOGOUT\r\n']);
    for (const [id, m] of byMessage(dvParts.out)) for (const [k, v] of m) theirs.get(id)?.set(k, v);

    const server = new ImapServer({ hostname: 'mx', folders, authenticate: (u, p) => Promise.resolve(u === user && p === 'secret'), authFailureDelayMs: 1 });
    let ours: Map<string, Map<string, string>>;
    try {
      const [bound] = await server.listen([{ host: '127.0.0.1', port: 0 }]);
      const c = await LineClient.connect(bound.port, '127.0.0.1');
      try {
        await c.readLine();
        c.write(`l LOGIN ${user} secret\r\ns EXAMINE INBOX\r\n`);
        await c.readTagged('s');
        const raw: Buffer[] = [];
        c.write(fetch);
        // the literals are read as latin1 lines: put the octets back together
        for (const l of await c.readTagged('f', 60_000)) raw.push(Buffer.from(`${l}\r\n`, 'latin1'));
        ours = byMessage(Buffer.concat(raw));
        for (const command of partFetches(ours, parts)) {
          c.write(command);
          const tag = command.split(' ')[0];
          const lines = await c.readTagged(tag, 60_000);
          for (const [id, m] of byMessage(Buffer.from(lines.map((l) => `${l}\r\n`).join(''), 'latin1'))) for (const [k, v] of m) ours.get(id)?.set(k, v);
        }
      } finally {
        c.close();
      }
    } finally {
      await server.close();
    }
    const wrong: string[] = [];
    let partsCompared = 0;
    for (const [id, k] of Object.entries(known)) if (!/RFC \d+/.test(k.why)) wrong.push(`${id}: listed without an RFC reason`);
    for (const [id, t] of theirs) {
      const o = ours.get(id);
      const differing = items.map((x) => x.replace('.PEEK', '')).filter((item) => o?.get(item) !== t.get(item));
      for (const n of parts(id).slice(1)) {
        const item = `BODY[${n}.MIME]`;
        if (t.get(item) === undefined) wrong.push(`${id}: Dovecot did not answer ${item}`);
        else partsCompared++;
        if (o?.get(item) !== t.get(item)) differing.push(item);
      }
      if (differing.join(' ') === (known[id]?.differs ?? '')) continue;
      wrong.push(`${id}: differs in "${differing.join(' ')}", listed "${known[id]?.differs ?? ''}"`);
      for (const item of differing) wrong.push(`  ${item}\n  dovecot: ${t.get(item)}\n  correio: ${o?.get(item)}`);
    }
    // DOVECOT_DIFF_DUMP=file: every difference, both sides, for analysis
    if (process.env.DOVECOT_DIFF_DUMP) {
      const lines: string[] = [];
      for (const [id, t] of theirs) {
        for (const item of items.map((x) => x.replace('.PEEK', ''))) {
          if (ours.get(id)?.get(item) !== t.get(item)) lines.push(`${id} ${item}\n  dovecot: ${t.get(item)}\n  correio: ${ours.get(id)?.get(item)}`);
        }
      }
      await writeFile(process.env.DOVECOT_DIFF_DUMP, `${lines.join('\n')}\n`);
    }
    assert.deepEqual(wrong, [], wrong.join('\n'));
    assert.ok(partsCompared > 200, `${partsCompared} part MIME headers compared`);
  }));
