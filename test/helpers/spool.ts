/** Reading a files spool from a test, beside whoever owns it. */
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
