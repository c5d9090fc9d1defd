/**
 * @module thread
 * THREAD's two algorithms over messages reduced to what they need, and the THREAD response's
 * nested lists.
 * Standards: RFC 5256 §4 (ORDEREDSUBJECT: messages grouped by base subject, sorted by sent
 *   date; the first of each group is the parent of the others; threads in the order of their
 *   first message), §4 (REFERENCES: parents from References (else the first In-Reply-To id),
 *   no loops, a message's parent is its last reference; dummies pruned; the root set sorted by
 *   sent date and grouped by base subject (a dummy takes the others, a reply goes under a
 *   non-dummy, else a new dummy holds both); children sorted by sent date), §4 thread-list
 *   syntax ("(3 6 (4 23)(44 7 96))"); ties broken by mailbox order.
 * Security: input is bounded by the mailbox; a References chain is cut at 1000 ids; loops in
 *   References are never followed (a link that would make one is not made).
 * Limitations: none known.
 */

export interface ThreadMessage {
  /** the number sent back (sequence number or UID) */
  readonly id: number;
  /** position in the mailbox (sequence number), for ties */
  readonly order: number;
  /** the Date: field in ms, or the internal date when it has none (RFC 5256 §2.2) */
  readonly sentAt: number;
  /** RFC 5256 §2.1 base subject */
  readonly subject: string;
  /** whether the subject was a reply or forward */
  readonly reply: boolean;
  readonly messageId?: string;
  /** References ids in order (or the first In-Reply-To id) */
  readonly references: readonly string[];
}

/** A node of a thread tree; `msg` is absent for a dummy (a message that is not there). */
export interface ThreadNode {
  msg?: ThreadMessage;
  children: ThreadNode[];
}

const byDate = (a: ThreadMessage, b: ThreadMessage): number => a.sentAt - b.sentAt || a.order - b.order;

/** A node's date for sorting: its message's, or a dummy's first child's. */
function firstMsg(n: ThreadNode): ThreadMessage | undefined {
  return n.msg ?? (n.children.length > 0 ? firstMsg(n.children[0]) : undefined);
}

function sortNodes(nodes: ThreadNode[]): void {
  for (const n of nodes) sortNodes(n.children);
  nodes.sort((a, b) => {
    const x = firstMsg(a);
    const y = firstMsg(b);
    return x && y ? byDate(x, y) : 0;
  });
}

export function threadOrderedSubject(msgs: readonly ThreadMessage[]): ThreadNode[] {
  const sorted = [...msgs].sort((a, b) => (a.subject < b.subject ? -1 : a.subject > b.subject ? 1 : byDate(a, b)));
  const out: ThreadNode[] = [];
  let cur: ThreadNode | undefined;
  for (const m of sorted) {
    if (cur?.msg && cur.msg.subject === m.subject) cur.children.push({ msg: m, children: [] });
    else out.push((cur = { msg: m, children: [] }));
  }
  out.sort((a, b) => byDate(a.msg!, b.msg!));
  return out;
}

interface Container extends ThreadNode {
  parent?: Container;
  children: Container[];
}

function isAncestor(a: Container, of: Container): boolean {
  for (let p: Container | undefined = of; p; p = p.parent) if (p === a) return true;
  return false;
}

function link(parent: Container, child: Container): void {
  if (child.parent === parent || isAncestor(child, parent)) return;
  if (child.parent) child.parent.children = child.parent.children.filter((c) => c !== child);
  child.parent = parent;
  parent.children.push(child);
}

/** Step 3: dummies without children go; others give their children to their parent (at the root only when one). */
function prune(nodes: Container[], root: boolean): Container[] {
  const out: Container[] = [];
  for (const n of nodes) {
    n.children = prune(n.children, false);
    if (n.msg) out.push(n);
    else if (n.children.length === 0) continue;
    else if (!root || n.children.length === 1) out.push(...n.children);
    else out.push(n);
  }
  for (const c of out) c.parent = undefined;
  return out;
}

export function threadReferences(msgs: readonly ThreadMessage[]): ThreadNode[] {
  const byId = new Map<string, Container>();
  const inOrder = [...msgs].sort((a, b) => a.order - b.order);
  let unique = 0;
  const containerOf = (id: string): Container => {
    let c = byId.get(id);
    if (!c) byId.set(id, (c = { children: [] }));
    return c;
  };
  // step 1: containers, linked along each message's references
  for (const m of inOrder) {
    let id = m.messageId;
    if (id === undefined || byId.get(id)?.msg) id = `\u0000${unique++}`; // missing or duplicate: a unique id
    const c = containerOf(id);
    c.msg = m;
    let prev: Container | undefined;
    for (const ref of m.references.slice(-1000)) {
      const r = containerOf(ref);
      if (prev && !r.parent) link(prev, r);
      prev = r;
    }
    // the message's parent is its last reference (never itself or one of its descendants)
    if (c.parent) {
      c.parent.children = c.parent.children.filter((x) => x !== c);
      c.parent = undefined;
    }
    if (prev && prev !== c) link(prev, c);
  }
  // step 2: the root set; step 3: prune
  let roots = prune([...byId.values()].filter((c) => !c.parent), true);
  // step 4: sort the root set by date
  sortNodes(roots);
  // step 5: group by base subject
  const bySubject = new Map<string, Container>();
  for (const r of roots) {
    const m = firstMsg(r)!;
    if (m.subject === '') continue;
    const t = bySubject.get(m.subject);
    if (!t || (!r.msg && t.msg) || (t.msg && t.msg.reply && r.msg && !r.msg.reply)) bySubject.set(m.subject, r);
  }
  const merged: Container[] = [];
  for (const r of roots) {
    const m = firstMsg(r)!;
    const t = m.subject === '' ? undefined : bySubject.get(m.subject);
    if (!t || t === r) {
      merged.push(r);
      continue;
    }
    if (!t.msg && !r.msg) t.children.push(...r.children);
    else if (!t.msg || r.msg?.reply) t.children.push(r);
    else {
      // a new dummy holds both, in the table's place (the table's message moves into it)
      const moved: Container = { msg: t.msg, children: t.children };
      t.msg = undefined;
      t.children = [moved, r];
    }
  }
  // step 6: sort again, every level
  roots = merged;
  sortNodes(roots);
  return roots;
}

/** The THREAD response's data: one "(…)" per thread (RFC 5256 §4 thread-list). */
export function formatThreads(roots: readonly ThreadNode[]): string {
  const inner = (n: ThreadNode): string => {
    let out = '';
    let cur: ThreadNode | undefined = n;
    while (cur) {
      if (cur.msg) out += (out === '' ? '' : ' ') + String(cur.msg.id);
      if (cur.children.length === 1 && cur.msg) {
        cur = cur.children[0];
        continue;
      }
      if (cur.children.length > 0) out += (out === '' ? '' : ' ') + cur.children.map((c) => `(${inner(c)})`).join('');
      cur = undefined;
    }
    return out;
  };
  return roots.map((r) => `(${inner(r)})`).join('');
}
