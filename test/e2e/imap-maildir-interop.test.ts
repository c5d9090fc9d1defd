/**
 * Issue 14, Storage: "Maildir++ folders and flags in file names, so Dovecot, mutt and Python's
 * `mailbox` read and write the same mailboxes". One Maildir, three programs in turn (not copies):
 * correio's IMAP server makes folders (one with a non-ASCII name, one nested) and APPENDs
 * messages with flags; Python's `mailbox.Maildir` lists the same folders and flags, then adds a
 * flagged message to a folder and removes one from the INBOX; Dovecot's `imap` (pre-authenticated
 * on a pipe, DESIGN.md §5) lists them, sees every flag and the Python changes, sets a flag and
 * APPENDs; a new correio session sees all of it, its earlier messages under their UIDs and the
 * newcomers above them, and lists no folder of Dovecot's own files. mutt is not installed here;
 * it reads Maildir by the same file names. Skips without Dovecot or Python.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, symlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { dovecotImap, prepareDovecotHome, runDovecot } from '../helpers/dovecot.js';
import { pythonWithModule, python3 } from '../helpers/python.js';
import { RawImap } from '../helpers/raw-imap.js';
import { testImapUser as user, withImapServer } from '../helpers/imap-server.js';

const skip = !existsSync(dovecotImap) ? `${dovecotImap} is absent (Debian package dovecot-imapd)` : false;
const message = (subject: string): string => `From: a@example.org\r\nSubject: ${subject}\r\n\r\nbody of ${subject}\r\n`;
const append = (box: string, flags: string, subject: string): string => {
  const m = message(subject);
  return `APPEND ${box} (${flags}) {${Buffer.byteLength(m)}+}\r\n${m}`;
};

/** subject → "UID flags" (flags sorted) of every message in a FETCH answer, correio's or Dovecot's */
function bySubject(answer: Buffer | string): Map<string, string> {
  const out = new Map<string, string>();
  const text = answer.toString('latin1');
  for (const m of text.matchAll(/^\* \d+ FETCH \(([^\r\n]*?)\{\d+\}\r\nSubject: (\S+)\r\n\r\n/gm)) {
    const uid = /UID (\d+)/.exec(m[1])?.[1] ?? '';
    const flags = (/FLAGS \(([^)]*)\)/.exec(m[1])?.[1] ?? '').split(' ').filter((f) => f !== '' && f !== '\\Recent').sort().join(' ');
    out.set(m[2], `${uid} ${flags}`);
  }
  return out;
}
/** the names of a LIST answer */
const listed = (answer: Buffer | string): string[] =>
  [...answer.toString('latin1').matchAll(/^\* LIST \([^)]*\) "\." "?([^"\r\n]*)"?\r$/gm)].map((m) => m[1]).sort();

const pythonScript = `
import json, mailbox, sys
md = mailbox.Maildir(sys.argv[1], factory=None, create=False)
def flags(box):
    return {m['Subject']: m.get_flags() for m in box}
out = {'folders': sorted(md.list_folders()), 'INBOX': flags(md), 'Projetos': flags(md.get_folder('Projetos')), 'Projetos.2026': flags(md.get_folder('Projetos.2026'))}
m = mailbox.MaildirMessage('From: b@example.org\\r\\nSubject: m5\\r\\n\\r\\nbody of m5\\r\\n')
m.set_subdir('cur')
m.set_flags('FS')
md.get_folder('Projetos').add(m)
for key, msg in md.items():
    if msg['Subject'] == 'm2':
        md.remove(key)
print(json.dumps(out))
`;

void test('correio, Python\'s mailbox and Dovecot read and write one Maildir++ tree: folders, modified UTF-7 names, flags, added and removed messages', { skip }, async (t) => {
  const py = await pythonWithModule('mailbox');
  if (!py) return t.skip('python3 is not installed');
  await withImapServer(async ({ port, mailRoot, store }) => {
    // 1: correio makes folders and messages with flags
    const c = await RawImap.connect(port);
    await c.run(`LOGIN ${user} secret`);
    for (const box of ['Projetos', 'Projetos.2026', 'Relat&APM-rios']) assert.match((await c.run(`CREATE ${box}`)).toString(), /OK/);
    for (const [box, flags, subject] of [['INBOX', '\\Seen \\Flagged', 'm1'], ['INBOX', '', 'm2'], ['Projetos', '\\Answered', 'm3'], ['Projetos.2026', '\\Draft', 'm4'], ['Relat&APM-rios', '\\Seen', 'm6']]) {
      assert.match((await c.run(append(box, flags, subject))).toString(), /OK \[APPENDUID/);
    }
    const fetch = 'UID FETCH 1:* (UID FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])';
    await c.run('SELECT INBOX');
    const inbox = bySubject(await c.run(fetch));
    await c.run('SELECT Projetos');
    const projetos = bySubject(await c.run(fetch));
    await c.run('LOGOUT');
    c.close();
    assert.deepEqual([...inbox.values()].map((v) => v.split(' ').slice(1).join(' ')), ['\\Flagged \\Seen', '']);

    // 2: Python's mailbox reads the same tree, then writes to it
    const maildir = store.mailboxPath(user, '');
    const r = await python3(pythonScript, [maildir], py);
    assert.equal(r.code, 0, r.err);
    const seen = JSON.parse(r.out) as Record<string, unknown>;
    assert.deepEqual(seen, {
      folders: ['Archive', 'Drafts', 'Junk', 'Projetos', 'Projetos.2026', 'Relat&APM-rios', 'Sent', 'Trash'],
      INBOX: { m1: 'FS', m2: '' },
      Projetos: { m3: 'R' },
      'Projetos.2026': { m4: 'D' },
    });

    // 3: Dovecot on the same files (its home's Maildir is a link to them)
    const home = join(dirname(mailRoot), 'dovecot');
    await mkdir(home);
    await symlink(maildir, join(home, 'Maildir'));
    const d = await prepareDovecotHome(home);
    if (process.getuid?.() === 0) {
      execFileSync('chown', ['-R', `${d.user}:`, maildir]);
      for (let p = maildir; p !== dirname(dirname(mailRoot)); p = dirname(p)) await chmod(p, 0o711);
    }
    const dv = await runDovecot(home, [
      'a LIST "" "*"\r\n',
      'b SELECT INBOX\r\n',
      'c FETCH 1:* (UID FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])\r\n',
      'd STORE 1 +FLAGS.SILENT (\\Answered)\r\n',
      `e ${append('Projetos', '\\Draft', 'm7')}\r\n`,
      'f SELECT Projetos\r\n',
      'g FETCH 1:* (UID FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])\r\n',
      'h LOGOUT\r\n',
    ]);
    const text = dv.out.toString('latin1');
    assert.doesNotMatch(text, /^[a-h] (NO|BAD)/m, `Dovecot refused a command:\n${text}\n${dv.stderr}`);
    assert.deepEqual(listed(text), ['Archive', 'Drafts', 'INBOX', 'Junk', 'Projetos', 'Projetos.2026', 'Relat&APM-rios', 'Sent', 'Trash']);
    const [dvInbox, dvProjetos] = text.split(/^e OK/m).map((part) => new Map([...bySubject(part)].map(([s, v]) => [s, v.split(' ').slice(1).join(' ')])));
    assert.deepEqual([...dvInbox], [['m1', '\\Flagged \\Seen']], 'Dovecot: m1 with its flags, m2 gone (Python removed it)');
    assert.deepEqual(new Map([...dvProjetos].filter(([s]) => s !== 'm7')), new Map([['m3', '\\Answered'], ['m5', '\\Flagged \\Seen']]), 'Dovecot: correio\'s and Python\'s flags');

    // 4: a new correio session sees everything, old messages under their UIDs
    const c2 = await RawImap.connect(port);
    try {
      await c2.run(`LOGIN ${user} secret`);
      assert.deepEqual(listed(await c2.run('LIST "" "*"')), ['Archive', 'Drafts', 'INBOX', 'Junk', 'Projetos', 'Projetos.2026', 'Relat&APM-rios', 'Sent', 'Trash']);
      await c2.run('SELECT INBOX');
      const inbox2 = bySubject(await c2.run(fetch));
      assert.deepEqual([...inbox2], [['m1', `${inbox.get('m1')!.split(' ')[0]} \\Answered \\Flagged \\Seen`]], 'Dovecot\'s \\Answered, Python\'s removal');
      await c2.run('SELECT Projetos');
      const p2 = bySubject(await c2.run(fetch));
      const uid3 = Number(projetos.get('m3')!.split(' ')[0]);
      assert.equal(p2.get('m3'), `${uid3} \\Answered`);
      assert.equal(p2.get('m5')?.split(' ').slice(1).join(' '), '\\Flagged \\Seen', 'Python\'s message with its flags');
      assert.equal(p2.get('m7')?.split(' ').slice(1).join(' '), '\\Draft', 'Dovecot\'s APPEND with its flag');
      for (const s of ['m5', 'm7']) assert.ok(Number(p2.get(s)!.split(' ')[0]) > uid3, `${s} gets a UID above the earlier ones`);
      await c2.run('LOGOUT');
    } finally {
      c2.close();
    }
  });
});
