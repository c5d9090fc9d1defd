/**
 * @module live-list
 * A server's open sessions (or any objects added and removed all the time, a few dozen live at
 * once): a doubly-linked list of entries, in place of a Set.
 * Why not a Set: V8 rebuilds a Set's table every few dozen additions when its entries come and
 * go, and the table it replaces still points at the entries it held. A long-lived Set's tables are
 * in the old generation; a young-generation collection takes every pointer from an old object to
 * a young one as live, dead table or not, until the next full collection. So every session that
 * had been in a replaced table (nearly all of them) outlived its end and was copied into the old
 * generation, with its socket and everything it reached (issue 11: with the SMTP server's Set,
 * 5.0 KB promoted per accepted message; without it, 2.1 KB). An entry taken out of this list is
 * unlinked and cleared: it points at nothing.
 * Standards: none.
 * Security: none.
 * Limitations: an item is removed through the entry add() returned, not by its value; iterating
 *   visits the items that were in the list when the iteration began (a snapshot), so it may
 *   visit an item removed meanwhile.
 */

/** What add() returns: the item's place in the list, handed back to delete(). */
export interface LiveEntry<T extends object> {
  readonly item: T | undefined;
}

class Node<T extends object> implements LiveEntry<T> {
  item: T | undefined;
  prev: Node<T> | undefined = undefined;
  next: Node<T> | undefined = undefined;
  constructor(item: T) {
    this.item = item;
  }
}

export class LiveList<T extends object> {
  #head: Node<T> | undefined;
  #tail: Node<T> | undefined;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** Adds `item` at the end; delete() takes the entry returned. */
  add(item: T): LiveEntry<T> {
    const node = new Node(item);
    if (this.#tail === undefined) this.#head = node;
    else {
      this.#tail.next = node;
      node.prev = this.#tail;
    }
    this.#tail = node;
    this.#size++;
    return node;
  }

  /** Removes the entry's item; false when it was removed already. */
  delete(entry: LiveEntry<T>): boolean {
    const node = entry as Node<T>;
    if (node.item === undefined) return false;
    if (node.prev === undefined) this.#head = node.next;
    else node.prev.next = node.next;
    if (node.next === undefined) this.#tail = node.prev;
    else node.next.prev = node.prev;
    node.item = undefined;
    node.prev = undefined;
    node.next = undefined;
    this.#size--;
    return true;
  }

  /** The items, oldest first, as they were when the iteration began. */
  *[Symbol.iterator](): IterableIterator<T> {
    const items: T[] = [];
    for (let n = this.#head; n !== undefined; n = n.next) items.push(n.item as T);
    yield* items;
  }
}
