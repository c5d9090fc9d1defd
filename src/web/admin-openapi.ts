/**
 * @module admin-openapi
 * The OpenAPI 3.1 document of the admin API, written by hand and served at
 * /api/admin/v1/openapi.json. A test (admin-api.test.ts) checks that every route the API
 * serves is described here and that every path described here is served.
 * Standards: OpenAPI 3.1.0 (JSON Schema 2020-12 for schemas); RFC 7617 (Basic), RFC 6750 (Bearer).
 * Security: describes the API only; no example carries a real secret.
 * Limitations: response schemas are given for the main shapes, not for every field.
 */

type Json = Record<string, unknown>;

const str = { type: 'string' };
const strings = { type: 'array', items: str };
const error = { description: 'bad input (400), unknown entry (404) or a temporary failure (503)', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };

function ok(description: string, schema: Json = { type: 'object' }): Json {
  return { description, content: { 'application/json': { schema } } };
}

function param(name: string, description: string, where: 'path' | 'query' = 'path', required = where === 'path'): Json {
  return { name, in: where, required, description, schema: str };
}

function body(properties: Json, required: string[]): Json {
  return { required: true, content: { 'application/json': { schema: { type: 'object', properties, required } } } };
}

function op(tag: string, summary: string, parts: { params?: Json[]; body?: Json; response?: Json; status?: string } = {}): Json {
  return {
    tags: [tag],
    summary,
    ...(parts.params ? { parameters: parts.params } : {}),
    ...(parts.body ? { requestBody: parts.body } : {}),
    responses: { [parts.status ?? '200']: parts.response ?? ok(summary), 400: error, 401: { description: 'not authenticated' }, 403: { description: 'not an admin' }, 404: error, 503: error },
  };
}

const address = param('address', 'a full address, local-part@domain (URL-encoded)');
const id = param('id', 'a message id (all its envelopes) or an envelope id ("<message id>-<n>")');
const domain = param('domain', 'a local domain');
const ref = (name: string): Json => ({ $ref: `#/components/schemas/${name}` });
const arrayOf = (name: string): Json => ({ type: 'array', items: ref(name) });

export const adminOpenApi: Json = {
  openapi: '3.1.0',
  info: {
    title: 'correio admin API',
    version: '1',
    description: 'The operations of the `correio` command over HTTP: directory, queue, trace, resolve, config check, DNS records, mail log. Errors are {"error": "<one sentence>"}.',
  },
  servers: [{ url: '/api/admin/v1' }],
  security: [{ basic: [] }, { bearer: [] }],
  paths: {
    '/openapi.json': { get: op('meta', 'this document') },
    '/domains': {
      get: op('directory', 'list the local domains', { response: ok('domains', strings) }),
      post: op('directory', 'add a local domain', { body: body({ domain: str }, ['domain']), status: '201' }),
    },
    '/domains/{domain}/dns': { get: op('dns', 'every DNS record the domain needs (MX, SPF, DKIM, DMARC)', { params: [domain], response: ok('records', arrayOf('DnsRecord')) }) },
    '/domains/{domain}/dkim': {
      get: op('dns', 'the domain\'s DKIM keys and the TXT record of each', { params: [domain], response: ok('keys', arrayOf('DnsRecord')) }),
      post: op('dns', 'make a DKIM key (as correio dkim keygen) and give the TXT record to publish', { params: [domain], body: body({ selector: str, algorithm: str }, []), status: '201' }),
    },
    '/users': {
      get: op('directory', 'list users', { response: ok('users', arrayOf('User')) }),
      post: op('directory', 'add a user (mailbox)', { body: body({ address: str, password: str, name: str }, ['address']), response: ok('the user', ref('User')), status: '201' }),
    },
    '/users/{address}': {
      get: op('directory', 'one user', { params: [address], response: ok('the user', ref('User')) }),
      delete: op('directory', 'delete a user (stored mail is kept)', { params: [address] }),
    },
    '/users/{address}/password': { put: op('directory', 'set (reset) a user\'s password', { params: [address], body: body({ password: str }, ['password']) }) },
    '/users/{address}/quota': {
      get: op('directory', 'a user\'s quota: own limits (null: the default), the default, the limits in force and the usage', { params: [address], response: ok('the quota', ref('Quota')) }),
      put: op('directory', 'set a user\'s quota: octets or a size ("500MB"), a message count; 0 no limit, null the default; a field left out is kept', {
        params: [address],
        body: body({ storage: { type: ['integer', 'string', 'null'] }, messages: { type: ['integer', 'string', 'null'] } }, []),
        response: ok('the quota', ref('Quota')),
      }),
    },
    '/users/{address}/disable': { post: op('directory', 'disable an account: no login on any protocol, mail to it refused (550 5.2.1); its mail is kept', { params: [address] }) },
    '/users/{address}/enable': { post: op('directory', 'enable a disabled account again', { params: [address] }) },
    '/aliases': { get: op('directory', 'list aliases', { response: ok('aliases', arrayOf('Alias')) }) },
    '/aliases/{name}': {
      put: op('directory', 'set an alias\'s targets (a bare name: in every local domain)', {
        params: [param('name', 'local@domain, @domain (catch-all) or a bare local name')],
        body: body({ targets: strings }, ['targets']),
        response: ok('the aliases set', arrayOf('Alias')),
      }),
      delete: op('directory', 'delete an alias', { params: [param('name', 'the alias name')] }),
    },
    '/lists': {
      get: op('directory', 'list mailing lists', { response: ok('lists', arrayOf('List')) }),
      post: op('directory', 'create a mailing list', { body: body({ address: str, owner: str, description: str }, ['address', 'owner']), response: ok('the list', ref('List')), status: '201' }),
    },
    '/lists/{address}': {
      get: op('directory', 'one list with its members', { params: [address], response: ok('the list', ref('List')) }),
      delete: op('directory', 'delete a list', { params: [address] }),
    },
    '/lists/{address}/members': { post: op('directory', 'add members', { params: [address], body: body({ members: strings }, ['members']), response: ok('the list', ref('List')) }) },
    '/lists/{address}/members/{member}': { delete: op('directory', 'remove a member', { params: [address, param('member', 'the member address')], response: ok('the list', ref('List')) }) },
    '/roles': { get: op('directory', 'list roles and holders', { response: ok('roles', arrayOf('Role')) }) },
    '/roles/{address}': {
      put: op('directory', 'make an address the holder of a role (created when absent)', { params: [address], body: body({ holder: str, description: str }, ['holder']), response: ok('the role', ref('Role')) }),
      delete: op('directory', 'delete a role', { params: [address] }),
    },
    '/directory/find': { get: op('directory', 'find domains, users, aliases, lists, roles containing a text', { params: [param('text', 'the text', 'query', true)] }) },
    '/queue': {
      get: op('queue', 'queued messages, oldest first, optionally filtered', {
        params: [
          { ...param('state', 'an envelope state', 'query'), schema: { enum: ['active', 'deferred', 'held', 'bouncing', 'delivered'] } },
          param('sender', 'substring of the envelope sender', 'query'),
          param('recipient', 'substring of a recipient', 'query'),
          param('route', 'substring of a route (transport:next hop)', 'query'),
          param('limit', 'at most this many messages, 1 to 1000000: one page; when more messages follow it (with a filter: when the page is full) the Correio-Next-Since header gives the next page\'s since', 'query'),
          param('since', 'messages after this message id (the last of the previous page), or received from this time on (2026-12-05T21:00:00Z)', 'query'),
        ],
        response: ok('messages', arrayOf('QueuedMessage')),
      }),
    },
    '/queue/summary': { get: op('queue', 'messages, octets, envelopes by state, oldest deferred arrival') },
    '/queue/flush': { post: op('queue', 'make every deferred envelope due now (held ones stay held)') },
    '/queue/actions': {
      post: op('queue', 'one action on several ids; each id reports its count or its error', {
        body: body({ action: { enum: ['flush', 'hold', 'release', 'delete', 'bounce'] }, ids: strings }, ['action', 'ids']),
      }),
    },
    '/queue/{id}': { get: op('queue', 'one message with every envelope and attempt', { params: [id], response: ok('the message', ref('QueuedMessage')) }) },
    '/queue/{id}/trace': { get: op('queue', 'the life of a message: received, resolved, each attempt, now', { params: [id] }) },
    '/queue/{id}/{action}': {
      post: op('queue', 'flush, hold, release, delete or bounce a message or envelope', {
        params: [id, { ...param('action', 'the action'), schema: { enum: ['flush', 'hold', 'release', 'delete', 'bounce'] } }],
      }),
    },
    '/resolve/{address}': { get: op('system', 'how an address expands (tree) and where each target goes', { params: [param('address', 'local-part@domain or postmaster')] }) },
    '/check': { get: op('system', 'validate the configuration and the directory (correio check)') },
    '/activity': {
      get: op('system', 'mail activity per minute, oldest first: messages received, recipients delivered, deferred and bounced (expired included)', {
        params: [param('minutes', 'how many minutes up to now, 1 to 60 (default 60)', 'query')],
        response: ok('minutes', { type: 'array', items: { $ref: '#/components/schemas/ActivityMinute' } }),
      }),
    },
    '/log': { get: op('system', 'the last lines of the mail log', { params: [param('lines', 'how many, 1 to 1000 (default 100)', 'query')], response: ok('lines', strings) }) },
  },
  components: {
    securitySchemes: {
      basic: { type: 'http', scheme: 'basic', description: 'a directory admin\'s address and password' },
      bearer: { type: 'http', scheme: 'bearer', description: 'an API token with the admin scope (correio token create)' },
    },
    schemas: {
      Error: { type: 'object', properties: { error: str }, required: ['error'] },
      User: {
        type: 'object',
        properties: {
          address: str, name: { type: ['string', 'null'] }, createdAt: str, disabled: { type: 'boolean' },
          quota: { type: 'object', properties: { storage: { type: ['integer', 'null'] }, messages: { type: ['integer', 'null'] } } },
        },
      },
      Quota: {
        type: 'object',
        description: 'storage in octets, messages as a count; 0 is no limit',
        properties: { address: str, own: { type: 'object' }, default: { type: 'object' }, limit: { type: 'object' }, usage: { type: 'object' } },
      },
      Alias: { type: 'object', properties: { name: str, targets: strings, source: str } },
      List: { type: 'object', properties: { address: str, owner: str, description: { type: ['string', 'null'] }, sender: str, listId: str, members: strings } },
      Role: { type: 'object', properties: { address: str, holder: str, description: { type: ['string', 'null'] } } },
      ActivityMinute: { type: 'object', properties: { minute: str, received: { type: 'integer' }, delivered: { type: 'integer' }, deferred: { type: 'integer' }, bounced: { type: 'integer' } } },
      DnsRecord: { type: 'object', properties: { comment: str, name: str, type: str, value: str, zone: str } },
      QueuedMessage: { type: 'object', properties: { id: str, size: { type: 'integer' }, arrivedAt: str, sender: str, recipients: { type: 'array', items: { type: 'object' } } } },
    },
  },
};
