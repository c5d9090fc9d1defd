/**
 * @module folder-list
 * The folders of the account with their unread counts, the special ones (RFC 8621 roles) first
 * in the usual order, then the others by name, indented under their parents.
 * Standards: RFC 8621 §2 (Mailbox: role, parentId, unreadEmails), RFC 6154 (special use).
 * Security: names are text. Limitations: no folder creation or rename here (use IMAP).
 */
import type { Mailbox } from './mail-api.js';

const roleOrder = ['inbox', 'drafts', 'sent', 'archive', 'junk', 'trash'];

function ordered(list: readonly Mailbox[]): { box: Mailbox; depth: number }[] {
  const rank = (m: Mailbox): number => {
    const i = m.role ? roleOrder.indexOf(m.role) : -1;
    return i < 0 ? roleOrder.length : i;
  };
  const children = (parent: string | null): Mailbox[] => list.filter((m) => m.parentId === parent).sort((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name));
  const out: { box: Mailbox; depth: number }[] = [];
  const walk = (parent: string | null, depth: number): void => {
    for (const m of children(parent)) {
      out.push({ box: m, depth });
      walk(m.id, depth + 1);
    }
  };
  walk(null, 0);
  return out;
}

export function FolderList({ mailboxes, current, onChoose }: { mailboxes: readonly Mailbox[]; current: string | undefined; onChoose: (id: string) => void }) {
  return (
    <nav class="folders" aria-label="Folders">
      <ul>
        {ordered(mailboxes).map(({ box, depth }) => (
          <li key={box.id} class={`depth-${Math.min(depth, 4)}`}>
            <button
              type="button"
              class={box.id === current ? 'current' : ''}
              data-mailbox={box.name}
              data-role={box.role ?? undefined}
              aria-current={box.id === current ? 'page' : undefined}
              onClick={() => onChoose(box.id)}
            >
              <span class="name">{box.name}</span>
              {box.unreadEmails > 0 && <span class="unread">{box.unreadEmails}</span>}
            </button>
          </li>
        ))}
      </ul>
    </nav>
  );
}
