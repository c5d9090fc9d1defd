/**
 * @module list-pages
 * The pages of one list (a folder's conversations or a search's messages) as the virtual list
 * needs them: fetched 50 at a time when rows of theirs come into view, kept until the list or
 * the mail changes (then the pages in view are fetched again).
 * Standards: RFC 8620 §5.5 (Email/query position and limit), through mail-api.
 * Security: nothing here renders anything.
 * Limitations: pages are kept for the list shown (a folder of 100,000 scrolled through end to
 *   end holds 2,000 pages of 50 rows, a few megabytes).
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { pageSize, type ListItem, type MailApi } from './mail-api.js';

export interface ListRow {
  readonly item: ListItem;
  readonly snippet?: { subject: string | null; preview: string | null };
}

export interface ListPages {
  /** rows in the list; undefined until the first page is in */
  readonly total: number | undefined;
  /** the row at an index, when its page is in */
  at(index: number): ListRow | undefined;
  indexOf(id: string): number;
  /** Asks for the pages of rows from..to (inclusive) to be fetched. */
  want(from: number, to: number): void;
}

export function useListPages(api: MailApi, mailboxId: string | undefined, search: string | undefined, version: number, active: boolean, onError: (err: unknown) => void): ListPages {
  const pages = useRef(new Map<number, ListRow[]>());
  const loading = useRef(new Set<number>());
  const wanted = useRef<[number, number]>([0, 0]);
  const generation = useRef(0);
  const [total, setTotal] = useState<number | undefined>(undefined);
  const [, setTick] = useState(0);

  const fetchPage = (n: number): void => {
    if (!active || loading.current.has(n)) return;
    loading.current.add(n);
    const gen = generation.current;
    api.page(mailboxId, n * pageSize, search).then((p) => {
      if (gen !== generation.current) return;
      loading.current.delete(n);
      pages.current.set(n, p.items.map((item) => ({ item, snippet: p.snippets.get(item.id) })));
      setTotal(p.total);
      setTick((t) => t + 1);
    }, (err: unknown) => {
      loading.current.delete(n);
      onError(err);
    });
  };
  const want = (from: number, to: number): void => {
    wanted.current = [from, to];
    for (let n = Math.floor(Math.max(0, from) / pageSize); n <= Math.floor(Math.max(0, to) / pageSize); n++) if (!pages.current.has(n)) fetchPage(n);
  };

  // another list: start again from the top
  useEffect(() => {
    generation.current++;
    pages.current = new Map();
    loading.current = new Set();
    setTotal(undefined);
    wanted.current = [0, pageSize - 1];
    want(0, pageSize - 1);
  }, [mailboxId, search, active]);
  // the mail changed: the pages in view again, the others forgotten
  useEffect(() => {
    if (version === 0) return;
    generation.current++;
    const keep = pages.current;
    pages.current = new Map();
    loading.current = new Set();
    const [from, to] = wanted.current;
    // until the new pages are in, the old rows stay shown
    for (let n = Math.floor(from / pageSize); n <= Math.floor(to / pageSize); n++) {
      const old = keep.get(n);
      if (old) pages.current.set(n, old);
      fetchPage(n);
    }
  }, [version]);

  return {
    total,
    at: (i) => pages.current.get(Math.floor(i / pageSize))?.[i % pageSize],
    indexOf: (id) => {
      for (const [n, rows] of pages.current) {
        const k = rows.findIndex((r) => r.item.id === id);
        if (k >= 0) return n * pageSize + k;
      }
      return -1;
    },
    want,
  };
}
