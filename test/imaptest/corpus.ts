/**
 * @module corpus
 * The imaptest scripts of ../shared/corpora/imap/imaptest/tests, each with its fixture: every
 * file of the folder that is not an `.mbox` (sub-folders, such as `broken/`, are not scripts),
 * its `<name>.mbox` or else `default.mbox`.
 * Standards: none.
 * Security: reads the corpus only.
 * Limitations: none.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseMbox, type MboxMessage } from './mbox.js';
import { parseScript, type Script } from './script.js';

export const imaptestDir = join(process.cwd(), '..', 'shared', 'corpora', 'imap', 'imaptest', 'tests');

export interface CorpusScript {
  readonly script: Script;
  readonly mbox: MboxMessage[];
}

export async function loadImaptestCorpus(dir = imaptestDir): Promise<CorpusScript[]> {
  const out: CorpusScript[] = [];
  const mboxes = new Map<string, MboxMessage[]>();
  const mboxOf = async (file: string): Promise<MboxMessage[]> => {
    if (!mboxes.has(file)) mboxes.set(file, parseMbox((await readFile(file)).toString('latin1')));
    return mboxes.get(file)!;
  };
  for (const name of (await readdir(dir)).sort()) {
    const file = join(dir, name);
    if (name.endsWith('.mbox') || name.startsWith('.') || (await stat(file)).isDirectory()) continue;
    const script = parseScript(name, (await readFile(file)).toString('latin1'));
    const own = `${file}.mbox`;
    out.push({ script, mbox: await mboxOf(existsSync(own) ? own : join(dir, 'default.mbox')) });
  }
  return out;
}
