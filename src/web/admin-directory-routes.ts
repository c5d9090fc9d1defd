/**
 * @module admin-directory-routes
 * The admin API's directory: domains, users, aliases, lists and members, roles, each change
 * through admin/directory-operations.ts (the functions `correio user|alias|list|role` call).
 * Standards: RFC 9110 §9.3 (GET reads, POST adds, PUT sets, DELETE removes).
 * Security: behind the admin API's authorize; every change is told on the `admin` channel with
 *   the caller's login and token id (serve's log and data_dir/admin.log keep it); passwords
 *   arrive in the body (never the URL) and are stored as scrypt hashes only; no answer carries
 *   a hash, no record a password.
 * Limitations: a quota's usage is shown only where the server gives its QuotaGate (not when
 *   the API runs without the mailboxes).
 */
import diagnostics from 'node:diagnostics_channel';
import type { Context, Hono } from 'hono';
import type { WebEnv } from './http-auth.js';
import { channels } from '../core/index.js';
import {
  addListMembers,
  addUser,
  aliasJson,
  createList,
  deleteAlias,
  deleteList,
  deleteRole,
  deleteUser,
  listInfo,
  removeListMembers,
  roleJson,
  setAlias,
  setRole,
  parseQuotaValue,
  setUserDisabled,
  setUserPassword,
  setUserQuota,
  showList,
  userJson,
  AdminError,
  auditedDirectory,
} from '../admin/index.js';
import { callerOf, jsonBody, stringField, stringsField, type AdminApiDeps } from './admin-request.js';

/** where operator actions are told: serve's log and data_dir/admin.log listen (docs/logging.md) */
const adminChannel = diagnostics.channel(channels.admin);

export function directoryRoutes(app: Hono<WebEnv>, deps: AdminApiDeps): void {
  const dir = deps.directory;
  // the directory a changing request works on: each change is told with who made it
  const changing = (c: Context<WebEnv>): typeof dir => auditedDirectory(dir, (change) => adminChannel.publish({ ...change, ...callerOf(c) }));
  const baseDir = (): string => deps.baseDir ?? deps.config().dataDir;

  app.get('/domains', async (c) => c.json(await dir.listDomains()));
  app.post('/domains', async (c) => {
    const domain = stringField(await jsonBody(c), 'domain');
    await changing(c).addDomain(domain);
    return c.json({ domain: domain.toLowerCase() }, 201);
  });

  app.get('/users', async (c) => c.json((await dir.listUsers()).map(userJson)));
  app.post('/users', async (c) => {
    const b = await jsonBody(c);
    const u = await addUser(changing(c), stringField(b, 'address'), stringField(b, 'password', true), stringField(b, 'name', true));
    return c.json(userJson(u), 201);
  });
  app.get('/users/:address', async (c) => {
    const u = await dir.findUser(c.req.param('address'));
    if (!u) throw new AdminError(`no such user: ${c.req.param('address')}`, 'not-found');
    return c.json(userJson(u));
  });
  app.delete('/users/:address', async (c) => c.json({ deleted: await deleteUser(changing(c), c.req.param('address')) }));
  app.put('/users/:address/password', async (c) => {
    const address = await setUserPassword(changing(c), c.req.param('address'), stringField(await jsonBody(c), 'password'));
    return c.json({ address, passwordChanged: true });
  });
  // quotas (docs/quota.md): the user's own limits; null (or "default") goes back to [quota]
  const quotaJson = async (address: string): Promise<Record<string, unknown>> => {
    const u = await dir.findUser(address);
    if (!u) throw new AdminError(`no such user: ${address}`, 'not-found');
    const report = deps.quota ? await deps.quota.report(u.address) : undefined;
    return { address: u.address, own: userJson(u).quota, default: deps.config().quota, ...(report ? { limit: report.limit, usage: report.usage } : {}) };
  };
  app.get('/users/:address/quota', async (c) => c.json(await quotaJson(c.req.param('address'))));
  app.put('/users/:address/quota', async (c) => {
    const b = await jsonBody(c);
    const change: { storage?: number | null; messages?: number | null } = {};
    if ('storage' in b) change.storage = parseQuotaValue('storage', b.storage);
    if ('messages' in b) change.messages = parseQuotaValue('messages', b.messages);
    if (Object.keys(change).length === 0) throw new AdminError('give "storage" and/or "messages" (a number, a size such as "500MB", 0 for no limit, null for the default)');
    const u = await setUserQuota(changing(c), c.req.param('address'), change);
    return c.json(await quotaJson(u.address));
  });
  // a disabled account logs in nowhere and receives no mail; its mail is kept
  for (const [verb, disabled] of [['disable', true], ['enable', false]] as const) {
    app.post(`/users/:address/${verb}`, async (c) => c.json({ address: await setUserDisabled(changing(c), c.req.param('address'), disabled), disabled }));
  }

  app.get('/aliases', async (c) => c.json((await dir.listAliases()).map(aliasJson)));
  app.put('/aliases/:name', async (c) => {
    const r = await setAlias(changing(c), c.req.param('name'), stringsField(await jsonBody(c), 'targets'), baseDir());
    return c.json(r.names.map((name) => ({ name, targets: r.targets, source: 'directory' })));
  });
  app.delete('/aliases/:name', async (c) => c.json({ deleted: await deleteAlias(changing(c), c.req.param('name')) }));

  app.get('/lists', async (c) => c.json((await dir.listLists()).map(listInfo)));
  app.post('/lists', async (c) => {
    const b = await jsonBody(c);
    const l = await createList(changing(c), stringField(b, 'address'), stringField(b, 'owner'), stringField(b, 'description', true));
    return c.json(listInfo(l), 201);
  });
  app.get('/lists/:address', async (c) => c.json(await showList(dir, c.req.param('address'))));
  app.delete('/lists/:address', async (c) => c.json({ deleted: await deleteList(changing(c), c.req.param('address')) }));
  app.post('/lists/:address/members', async (c) => {
    const r = await addListMembers(changing(c), c.req.param('address'), stringsField(await jsonBody(c), 'members'));
    return c.json(await showList(dir, r.list));
  });
  app.delete('/lists/:address/members/:member', async (c) => {
    const r = await removeListMembers(changing(c), c.req.param('address'), [c.req.param('member')]);
    return c.json(await showList(dir, r.list));
  });

  app.get('/roles', async (c) => c.json((await dir.listRoles()).map(roleJson)));
  app.put('/roles/:address', async (c) => {
    const b = await jsonBody(c);
    const r = await setRole(changing(c), c.req.param('address'), stringField(b, 'holder'), stringField(b, 'description', true));
    return c.json({ address: r.role, holder: r.holder, description: stringField(b, 'description', true) ?? null });
  });
  app.delete('/roles/:address', async (c) => c.json({ deleted: await deleteRole(changing(c), c.req.param('address')) }));

  app.get('/directory/find', async (c) => {
    const text = c.req.query('text');
    if (text === undefined || text === '') throw new AdminError('query parameter "text" is required');
    return c.json(await dir.find(text));
  });
}
