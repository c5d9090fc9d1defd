/**
 * @module directory-views
 * The console's directory pages: users (add, reset password, delete), aliases (set, delete),
 * lists (create, add and remove members, delete), roles (set, delete). Each form calls the
 * admin API, whose answer (or refusal, in the CLI's words) is shown in the status line.
 * Standards: WHATWG HTML forms.
 * Security: DOM nodes only; passwords are sent in a request body and the field is cleared.
 * Limitations: no paging (directories of a few thousand entries).
 */
import { h, field, table } from '../common/dom.js';
import { api, seg } from './admin-client.js';
import { attempt, say, show } from './page.js';

interface User { address: string; name: string | null; createdAt: string }
interface Alias { name: string; targets: string[]; source: string }
interface List { address: string; owner: string; description: string | null; members: string[] }
interface Role { address: string; holder: string; description: string | null }

export type DirectoryPage = 'users' | 'aliases' | 'lists' | 'roles';

/** A form whose submit runs `fn` with the form, then reports and redraws the page. */
function form(id: string, fn: (f: HTMLFormElement) => Promise<string>, page: DirectoryPage, ...children: Node[]): HTMLFormElement {
  const f = h('form', { id, class: 'inline', onsubmit: (ev: Event) => {
    ev.preventDefault();
    void attempt(async () => {
      const done = await fn(f);
      say(done);
      show(() => directoryView(page));
    });
  } }, ...children);
  return f;
}

function input(name: string, placeholder: string, type = 'text', required = true): HTMLInputElement {
  return h('input', { name, placeholder, type, required, 'aria-label': placeholder });
}

function button(label: string, fn: () => Promise<string>, page: DirectoryPage, attrs: Record<string, string> = {}): HTMLButtonElement {
  return h('button', { ...attrs, onclick: () => void attempt(async () => {
    say(await fn());
    show(() => directoryView(page));
  }) }, label);
}

const splitList = (s: string): string[] => s.split(/[\s,]+/).filter((x) => x !== '');

async function users(): Promise<Node[]> {
  const all = await api<User[]>('GET', '/users');
  return [
    form('add-user', async (f) => {
      const u = await api<User>('POST', '/users', { address: field(f, 'address'), password: field(f, 'password') || undefined, name: field(f, 'name') || undefined });
      return `added ${u.address}`;
    }, 'users', input('address', 'address'), input('password', 'password', 'password', false), input('name', 'name', 'text', false), h('button', { type: 'submit' }, 'Add user')),
    table(['address', 'name', 'created', ''], all.map((u) => [u.address, u.name ?? '', u.createdAt, h('span', { class: 'actions' },
      button('reset password', async () => {
        const password = window.prompt(`New password for ${u.address}`);
        if (!password) return 'password unchanged';
        await api('PUT', `/users/${seg(u.address)}/password`, { password });
        return `password changed for ${u.address}`;
      }, 'users'),
      button('delete', async () => {
        if (!window.confirm(`Delete ${u.address}? (stored mail is kept)`)) return 'nothing deleted';
        await api('DELETE', `/users/${seg(u.address)}`);
        return `deleted ${u.address}`;
      }, 'users', { 'data-delete': u.address }))]), { id: 'users-table' }),
  ];
}

async function aliases(): Promise<Node[]> {
  const all = await api<Alias[]>('GET', '/aliases');
  return [
    form('set-alias', async (f) => {
      const set = await api<Alias[]>('PUT', `/aliases/${seg(field(f, 'name'))}`, { targets: splitList(field(f, 'targets')) });
      return `set ${set.map((a) => a.name).join(', ')}`;
    }, 'aliases', input('name', 'alias name'), input('targets', 'targets, comma-separated'), h('button', { type: 'submit' }, 'Set alias')),
    table(['alias', 'targets', 'source', ''], all.map((a) => [a.name, a.targets.join(', '), a.source,
      a.source === 'directory' ? button('delete', async () => {
        await api('DELETE', `/aliases/${seg(a.name)}`);
        return `deleted ${a.name}`;
      }, 'aliases') : '']), { id: 'aliases-table' }),
  ];
}

async function lists(): Promise<Node[]> {
  const all = await api<List[]>('GET', '/lists');
  return [
    form('create-list', async (f) => {
      const l = await api<List>('POST', '/lists', { address: field(f, 'address'), owner: field(f, 'owner'), description: field(f, 'description') || undefined });
      return `created ${l.address}`;
    }, 'lists', input('address', 'list address'), input('owner', 'owner'), input('description', 'description', 'text', false), h('button', { type: 'submit' }, 'Create list')),
    form('add-members', async (f) => {
      const l = await api<List>('POST', `/lists/${seg(field(f, 'list'))}/members`, { members: splitList(field(f, 'members')) });
      return `${l.address}: ${l.members.length} member${l.members.length === 1 ? '' : 's'}`;
    }, 'lists', input('list', 'list address'), input('members', 'members, comma-separated'), h('button', { type: 'submit' }, 'Add members')),
    ...all.map((l) => h('div', { class: 'list', 'data-list': l.address },
      h('h3', {}, l.address), h('p', {}, `owner ${l.owner}${l.description ? ` — ${l.description}` : ''}`),
      h('ul', {}, ...l.members.map((m) => h('li', {}, m, ' ', button('remove', async () => {
        await api('DELETE', `/lists/${seg(l.address)}/members/${seg(m)}`);
        return `${l.address}: removed ${m}`;
      }, 'lists')))),
      button('delete list', async () => {
        if (!window.confirm(`Delete the list ${l.address}?`)) return 'nothing deleted';
        await api('DELETE', `/lists/${seg(l.address)}`);
        return `deleted ${l.address}`;
      }, 'lists'))),
  ];
}

async function roles(): Promise<Node[]> {
  const all = await api<Role[]>('GET', '/roles');
  return [
    form('set-role', async (f) => {
      const r = await api<Role>('PUT', `/roles/${seg(field(f, 'role'))}`, { holder: field(f, 'holder'), description: field(f, 'description') || undefined });
      return `${r.address} -> ${r.holder}`;
    }, 'roles', input('role', 'role address'), input('holder', 'holder'), input('description', 'description', 'text', false), h('button', { type: 'submit' }, 'Set role')),
    table(['role', 'holder', 'description', ''], all.map((r) => [r.address, r.holder, r.description ?? '', button('delete', async () => {
      await api('DELETE', `/roles/${seg(r.address)}`);
      return `deleted ${r.address}`;
    }, 'roles')]), { id: 'roles-table' }),
  ];
}

const pages: Record<DirectoryPage, [string, () => Promise<Node[]>]> = {
  users: ['Users', users],
  aliases: ['Aliases', aliases],
  lists: ['Lists', lists],
  roles: ['Roles', roles],
};

export async function directoryView(page: DirectoryPage): Promise<Node> {
  const [title, draw] = pages[page];
  return h('section', { id: page }, h('h2', {}, title), ...(await draw()));
}
