/**
 * @module system-views
 * The console's system pages: an address's `resolve` drawn as a tree (the seed's figure 2:
 * aliases, roles, lists, local mailboxes and remote targets as boxes joined by lines), the DNS
 * records a domain needs with a copy button each, and the config check's findings.
 * Standards: seed §2, figure 2; RFC 1035 §5.1 (zone lines as copied).
 * Security: DOM nodes only; copying uses the Clipboard API on the user's click.
 * Limitations: the tree is drawn with nested lists and CSS, not SVG.
 */
import { h, field, replace, table } from '../common/dom.js';
import { api, seg } from './admin-client.js';
import { attempt, say } from './page.js';

interface ExpansionNode {
  name: string;
  kind: string;
  source?: string;
  route?: string;
  reply?: string;
  note?: string;
  children: ExpansionNode[];
}
interface DnsRecord { comment: string; name: string; type: string; value: string; zone: string }
interface Finding { level: string; message: string }

function treeNode(n: ExpansionNode): HTMLLIElement {
  const label = [n.name, n.route ? `→ ${n.route}` : '', n.reply ?? '', n.note ? `[${n.note}]` : ''].filter((x) => x !== '').join(' ');
  return h('li', { class: `node node-${n.kind}`, 'data-kind': n.kind },
    h('span', { class: 'box' }, h('span', { class: 'kind' }, n.kind), ' ', label),
    n.children.length > 0 ? h('ul', {}, ...n.children.map(treeNode)) : null);
}

/** One form and an output area under it. */
function query(id: string, placeholder: string, run: (value: string, out: HTMLElement) => Promise<void>): HTMLElement {
  const out = h('div', { class: 'result' });
  const f = h('form', { id, class: 'inline', onsubmit: (ev: Event) => {
    ev.preventDefault();
    void attempt(async () => run(field(f, 'q'), out));
  } }, h('input', { name: 'q', placeholder, required: true, 'aria-label': placeholder }), h('button', { type: 'submit' }, 'Show'));
  return h('div', {}, f, out);
}

export async function resolveView(): Promise<Node> {
  return h('section', { id: 'resolve' }, h('h2', {}, 'Resolve an address'),
    query('resolve-form', 'address', async (address, out) => {
      const r = await api<{ tree: ExpansionNode; targets: { kind: string; address?: string; route?: string }[] }>('GET', `/resolve/${seg(address)}`);
      replace(out, h('ul', { class: 'tree' }, treeNode(r.tree)),
        h('h3', {}, 'Targets'), table(['kind', 'address', 'route'], r.targets.map((t) => [t.kind, t.address ?? '', t.route ?? ''])));
    }));
}

export async function dnsView(): Promise<Node> {
  const domains = await api<string[]>('GET', '/domains');
  return h('section', { id: 'dns' }, h('h2', {}, 'DNS records'), h('p', {}, `Local domains: ${domains.join(', ')}`),
    query('dns-form', 'domain', async (domain, out) => {
      const records = await api<DnsRecord[]>('GET', `/domains/${seg(domain)}/dns`);
      replace(out, ...records.map((r) => h('div', { class: 'record' }, h('p', { class: 'comment' }, r.comment), h('pre', {}, r.zone),
        h('button', { onclick: () => void attempt(async () => {
          await navigator.clipboard.writeText(r.zone);
          say(`copied the ${r.type} record of ${r.name}`);
        }) }, 'Copy'))));
    }));
}

export async function checkView(): Promise<Node> {
  const r = await api<{ ok: boolean; findings: Finding[] }>('GET', '/check');
  return h('section', { id: 'check' }, h('h2', {}, 'Config check'),
    h('p', { class: r.ok ? 'ok' : 'error' }, r.ok ? 'No errors.' : 'Errors found.'),
    r.findings.length === 0 ? h('p', {}, 'Nothing to report.') : h('ul', {}, ...r.findings.map((f) => h('li', { class: f.level }, `${f.level}: ${f.message}`))));
}
