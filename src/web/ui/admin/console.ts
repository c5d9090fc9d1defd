/**
 * @module console
 * The admin console (/admin): log in, then a dashboard (mail per minute and the queue by state,
 * charted and refreshed every 5 s), the
 * queue with its actions, a message's trace as a timeline, and the directory, resolve, DNS and
 * check pages (directory-views.ts, system-views.ts). Everything it shows and does goes through
 * the admin API, the same one scripts use.
 * Standards: WHATWG HTML, DOM.
 * Security: built with DOM nodes only (common/dom.ts): nothing from the server is parsed as
 *   markup; the page runs under a CSP without inline script. The password stays in memory.
 * Limitations: the dashboard's figures are this server process's (charts.ts): a restart starts
 *   the activity chart from zero.
 */
import { h, replace, field, table } from '../common/dom.js';
import { api, ApiError, clearCredentials, seg, setCredentials } from './admin-client.js';
import { attempt, main, onUnauthorized, refreshEvery, say, show, status, stopRefresh } from './page.js';
import { directoryView } from './directory-views.js';
import { checkView, dnsView, resolveView } from './system-views.js';
import { activityChart, queueChart, type ActivityMinute } from './charts.js';

interface Recipient {
  envelopeId: string;
  recipient: string;
  state: string;
  attempts: number;
  lastError: string | null;
  nextAttemptAt: string | null;
}
interface QueuedMessage {
  id: string;
  size: number;
  arrivedAt: string;
  sender: string;
  recipients: Recipient[];
}
interface Summary {
  messages: number;
  octets: number;
  envelopes: Record<string, number>;
  oldestDeferred: string | null;
}
interface Trace {
  id: string;
  arrivedAt: string;
  sender: string;
  size: number;
  received: string | null;
  recipients: { envelopeId: string; given: string; recipient: string; chain: string[]; route: string; attempts: string[]; state: string; detail: string }[];
}

async function dashboard(): Promise<Node> {
  const box = h('section', { id: 'dashboard' });
  const draw = async (): Promise<void> => {
    const [s, minutes] = await Promise.all([api<Summary>('GET', '/queue/summary'), api<ActivityMinute[]>('GET', '/activity?minutes=60')]);
    replace(
      box,
      h('h2', {}, 'Dashboard'),
      h('div', { class: 'figures' },
        ...[['messages', s.messages], ['octets', s.octets], ...Object.entries(s.envelopes)].map(([k, v]) =>
          h('div', { class: 'figure', 'data-figure': String(k) }, h('span', { class: 'value' }, String(v)), h('span', { class: 'label' }, String(k))))),
      h('p', {}, `Oldest deferred message: ${s.oldestDeferred ?? 'none'}`),
      activityChart(minutes),
      queueChart(s.envelopes),
    );
  };
  await draw();
  refreshEvery(5000, draw);
  return box;
}

const actions = ['flush', 'hold', 'release', 'delete', 'bounce'] as const;

async function queueView(filter: { state?: string; recipient?: string } = {}): Promise<Node> {
  const q = new URLSearchParams();
  if (filter.state) q.set('state', filter.state);
  if (filter.recipient) q.set('recipient', filter.recipient);
  const list = await api<QueuedMessage[]>('GET', `/queue${q.size > 0 ? `?${q.toString()}` : ''}`);
  const act = (action: string, id: string) => () =>
    void attempt(async () => {
      if ((action === 'delete' || action === 'bounce') && !window.confirm(`${action} ${id}?`)) return;
      const r = await api<{ count: number }>('POST', `/queue/${seg(id)}/${action}`);
      say(`${id}: ${action} applied to ${r.count} envelope${r.count === 1 ? '' : 's'}`);
      show(() => queueView(filter));
    });
  const filterForm = h('form', { class: 'filters', onsubmit: (ev: Event) => {
    ev.preventDefault();
    const f = ev.target as HTMLFormElement;
    show(() => queueView({ state: field(f, 'state'), recipient: field(f, 'recipient') }));
  } },
    h('select', { name: 'state', 'aria-label': 'state' }, h('option', { value: '' }, 'any state'),
      ...['active', 'deferred', 'held', 'bouncing', 'delivered'].map((s) => h('option', { value: s, selected: filter.state === s }, s))),
    h('input', { name: 'recipient', placeholder: 'recipient contains', value: filter.recipient ?? '' }),
    h('button', { type: 'submit' }, 'Filter'));
  const flushAll = h('button', { id: 'flush-all', onclick: () => void attempt(async () => {
    const r = await api<{ count: number }>('POST', '/queue/flush');
    say(`queue flushed: ${r.count} envelope${r.count === 1 ? '' : 's'} due now`);
    show(() => queueView(filter));
  }) }, 'Flush all');
  const rows = list.flatMap((m) => m.recipients.map((r, i) => [
    i === 0 ? h('a', { href: '#', class: 'trace-link', onclick: (ev: Event) => { ev.preventDefault(); show(() => traceView(m.id)); } }, m.id) : '',
    i === 0 ? m.sender || '<>' : '',
    r.recipient,
    h('span', { class: `state state-${r.state}` }, r.state),
    String(r.attempts),
    r.lastError ?? '',
    i === 0 ? h('span', { class: 'actions' }, ...actions.map((a) => h('button', { 'data-action': a, 'data-id': m.id, onclick: act(a, m.id) }, a))) : '',
  ]));
  return h('section', { id: 'queue' }, h('h2', {}, `Queue (${list.length} message${list.length === 1 ? '' : 's'})`), filterForm, flushAll,
    list.length === 0 ? h('p', { class: 'empty' }, 'The queue is empty.') : table(['message', 'sender', 'recipient', 'state', 'attempts', 'last error', 'actions'], rows, { id: 'queue-table' }));
}

async function traceView(id: string): Promise<Node> {
  const t = await api<Trace>('GET', `/queue/${seg(id)}/trace`);
  const step = (kind: string, when: string, what: string): HTMLLIElement => h('li', { class: `step step-${kind}` }, h('span', { class: 'when' }, when), h('span', { class: 'what' }, what));
  return h('section', { id: 'trace' }, h('h2', {}, `Trace of ${t.id}`),
    h('ol', { class: 'timeline' }, step('received', t.arrivedAt, `received from <${t.sender}>, ${t.size} octets${t.received ? ` — Received: ${t.received}` : ''}`)),
    ...t.recipients.map((r) => h('div', { class: 'recipient' }, h('h3', {}, r.given),
      h('ol', { class: 'timeline' },
        step('resolved', '', `resolved: ${r.chain.join(' → ')} ⇒ ${r.route}`),
        ...r.attempts.map((a) => step('attempt', '', a)),
        step(`now state-${r.state}`, '', `now: ${r.state}${r.detail ? ` (${r.detail})` : ''}`)))));
}

function nav(): HTMLElement {
  const items: [string, () => Promise<Node>][] = [
    ['Dashboard', dashboard],
    ['Queue', () => queueView()],
    ['Users', () => directoryView('users')],
    ['Aliases', () => directoryView('aliases')],
    ['Lists', () => directoryView('lists')],
    ['Roles', () => directoryView('roles')],
    ['Resolve', resolveView],
    ['DNS', dnsView],
    ['Check', checkView],
  ];
  return h('nav', {},
    ...items.map(([label, view]) => h('button', { 'data-nav': label.toLowerCase(), onclick: () => { say(''); show(view); } }, label)),
    h('button', { class: 'logout', onclick: () => { clearCredentials(); showLogin('Logged out.'); } }, 'Log out'));
}

function showApp(who: string): void {
  replace(document.body, h('header', {}, h('h1', {}, 'correio admin'), h('span', { class: 'who' }, who)), nav(), status, main);
  show(dashboard);
}

function showLogin(message = ''): void {
  stopRefresh();
  const form = h('form', { id: 'login', onsubmit: (ev: Event) => {
    ev.preventDefault();
    const address = field(form, 'address');
    setCredentials(address, field(form, 'password'));
    void (async () => {
      try {
        await api('GET', '/queue/summary');
        showApp(address);
      } catch (err) {
        clearCredentials();
        const why = err instanceof ApiError && err.status === 403 ? "this account is not an admin: the server's operator lists it in [http] admins (correio.toml), then runs correio reload" : err instanceof Error ? err.message : String(err);
        replace(note, `Login failed: ${why}`);
      }
    })();
  } },
    h('h1', {}, 'correio admin'),
    h('label', {}, 'Address', h('input', { name: 'address', type: 'email', autocomplete: 'username', required: true })),
    h('label', {}, 'Password', h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true })),
    h('button', { type: 'submit' }, 'Log in'));
  const note = h('p', { id: 'login-note', role: 'alert' }, message);
  replace(document.body, form, note);
}

onUnauthorized(showLogin);
showLogin();
