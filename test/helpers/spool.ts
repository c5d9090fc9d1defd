/** Reading a files spool from a test, beside whoever owns it, and damaging its files in place. */
import { open } from 'node:fs/promises';
import type { Envelope } from '../../src/core/index.js';
import { FsQueueStore } from '../../src/queue/index.js';

/**
 * Every current envelope of the spool in `dir`, read through the store as a reader beside a
 * running owner: recovery 'never' and the lock left alone.
 */
export async function readSpoolEnvelopes(dir: string): Promise<Envelope[]> {
  const store = await FsQueueStore.open(dir, { recover: 'never', lock: false });
  try {
    const out: Envelope[] = [];
    for await (const e of store.walkEnvelopes()) out.push(e);
    return out;
  } finally {
    await store.close();
  }
}

/** Writes `data` at `position` of the file at `path`, over what is there (a torn or damaged record). */
export async function writeAt(path: string, data: Buffer, position: number): Promise<void> {
  const fh = await open(path, 'r+');
  try {
    await fh.write(data, 0, data.length, position);
  } finally {
    await fh.close();
  }
}
