/**
 * @module corpus-messages
 * The message files of `../shared/corpora/messages` (DESIGN.md §6) that the IMAP tests read:
 * every `.eml`/`.msg`, and the `.txt` messages of the mimekit and python-email sets, sorted.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { corporaDir } from './paths.js';

export const messagesCorpus = join(corporaDir, 'messages');

export async function corpusMessageFiles(root = messagesCorpus): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else if (/\.(eml|msg)$/.test(e.name) || /\/(mimekit|python-email)\/.*\.txt$/.test(p)) out.push(p);
    }
  };
  await walk(root);
  return out.sort();
}
