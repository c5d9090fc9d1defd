/**
 * @module shortcuts
 * The keyboard shortcuts (Gmail's letters, which mail users know): j/k next and previous
 * message, c compose, r reply, a reply to all, f forward, / search, e archive, # delete,
 * u back to the list, s flag. Keys typed into a field are the field's.
 * Standards: UI Events (KeyboardEvent.key).
 * Security: none. Limitations: no rebinding.
 */
import { useEffect, useRef } from 'preact/hooks';

export type ShortcutAction = 'next' | 'previous' | 'compose' | 'reply' | 'reply-all' | 'forward' | 'search' | 'archive' | 'delete' | 'back' | 'flag';

export const shortcutKeys: Record<string, ShortcutAction> = {
  j: 'next',
  k: 'previous',
  c: 'compose',
  r: 'reply',
  a: 'reply-all',
  f: 'forward',
  '/': 'search',
  e: 'archive',
  '#': 'delete',
  u: 'back',
  s: 'flag',
};

function typing(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null;
  return el !== null && (el.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(el.tagName));
}

/** Calls the latest `handler` for each shortcut pressed outside a field, while `active`. */
export function useShortcuts(active: boolean, handler: (action: ShortcutAction) => void): void {
  // read at each key press: a listener added in an effect after each change of `active` would
  // miss a key pressed between the render and the effect
  const latest = useRef({ active, handler });
  latest.current = { active, handler };
  useEffect(() => {
    const onKey = (ev: KeyboardEvent): void => {
      if (!latest.current.active || ev.ctrlKey || ev.metaKey || ev.altKey || typing(ev.target)) return;
      const action = shortcutKeys[ev.key];
      if (!action) return;
      ev.preventDefault();
      latest.current.handler(action);
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, []);
}
