/**
 * t-22: VRFY and EXPN over the whole running system (issue 4), as transcripts. Strangers learn
 * nothing (VRFY 252 for every name, EXPN 502: RFC 5321 §7.3); the trusted network and
 * authenticated users get answers from the directory: mailboxes confirmed (through aliases,
 * roles and +tags), unknown names 550 5.1.1, lists and aliases expanded.
 */
import { after, before, test } from 'node:test';
import { startSite, type Site } from '../helpers/site.js';
import { freePort } from '../helpers/net.js';
import { SmtpTestClient, tlsCertFile, tlsKeyFile } from './t-20-smtp-tls-client.js';

let site: Site;
let mx: number;
let submission: number;

before(async () => {
  const closed = await freePort();
  site = await startSite({
    domains: ['dc.uece.br'],
    hostname: 'dc.uece.br',
    users: ['suzana@dc.uece.br', 'pascal@dc.uece.br'],
    aliases: {
      'chefe@dc.uece.br': ['suzana@dc.uece.br'],
      'equipe@dc.uece.br': ['suzana@dc.uece.br', 'pascal@dc.uece.br'],
      'fora@dc.uece.br': ['helvecio@dsc.ufpb.br'],
      'arquivo@dc.uece.br': ['/tmp/never-shown', 'pascal@dc.uece.br'],
    },
    smtp: { submission: ['127.0.0.1:0'], tls_cert: tlsCertFile, tls_key: tlsKeyFile, trusted_networks: ['127.0.0.1/32'] },
    delivery: { dns_servers: [`127.0.0.1:${closed}`] },
  });
  const dir = site.app!.backends.directory;
  await dir.createList('staff@dc.uece.br', 'suzana@dc.uece.br');
  await dir.addListMembers('staff@dc.uece.br', ['suzana@dc.uece.br', 'helvecio@dsc.ufpb.br']);
  // the seed's role address: whoever heads the department now
  await dir.setRole('chefe-de-departamento@dc.uece.br', 'pascal@dc.uece.br');
  const addrs = site.app!.smtpAddresses();
  mx = addrs.find((a) => a.mode === 'mx')!.port;
  submission = addrs.find((a) => a.mode === 'submission')!.port;
});
after(async () => site.destroy());

/** One exchange: a command and the reply lines it must get (`S:` exact), or a `# comment`. */
type Step = readonly [command: string, ...reply: string[]] | `# ${string}`;

/** The steps as a test/helpers/dialog.ts transcript. */
function transcript(steps: readonly Step[]): string {
  const lines = steps.flatMap((s) => (typeof s === 'string' ? [s] : [`C: ${s[0]}`, ...s.slice(1).map((r) => `S: ${r}`)]));
  return `\n${lines.join('\n')}\n`;
}

/** An EHLO reply: `first` when given, `more` extension lines of any content, then 250 HELP. */
function ehloReply(more: number, first?: string): string {
  return [...(first === undefined ? [] : [`S: ${first}`]), ...Array<string>(more).fill('S~ (250-.*)'), 'S: 250 HELP'].join('\n');
}

const greeting = 'S: 220 dc.uece.br Simple Mail Transfer Service Ready';
const ehlo = `\n${greeting}\nC: EHLO client.test\n${ehloReply(8, '250-dc.uece.br')}\n`;

const cannotVrfy = '252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery';
const noExpn = '502 5.5.1 Command not implemented';
const noSuchUser = '550 5.1.1 No such user here';
const is = (address: string): string => `250 2.1.5 <${address}>`;
const bye = '221 2.0.0 dc.uece.br Service closing transmission channel';

const stranger = transcript([
  ['VRFY suzana', cannotVrfy],
  ['VRFY <suzana@dc.uece.br>', cannotVrfy],
  ['VRFY jacques@dc.uece.br', cannotVrfy],
  ['EXPN staff@dc.uece.br', noExpn],
  ['EXPN jacques@dc.uece.br', noExpn],
  ['QUIT', bye],
]);

const trusted = transcript([
  ['VRFY suzana', is('suzana@dc.uece.br')],
  ['VRFY <pascal@dc.uece.br>', is('pascal@dc.uece.br')],
  ['VRFY jacques@dc.uece.br', noSuchUser],
  ['VRFY jacques', noSuchUser],
  '# an alias and a role that end in one mailbox name that mailbox (RFC 5321 §3.5.1)',
  ['VRFY chefe@dc.uece.br', is('suzana@dc.uece.br')],
  ['VRFY chefe-de-departamento@dc.uece.br', is('pascal@dc.uece.br')],
  ['VRFY suzana+avisos@dc.uece.br', is('suzana@dc.uece.br')],
  '# a list or a one-to-many alias: mail to it is delivered, so the name is confirmed',
  ['VRFY staff@dc.uece.br', is('staff@dc.uece.br')],
  ['VRFY equipe@dc.uece.br', is('equipe@dc.uece.br')],
  '# not ours to verify',
  ['VRFY helvecio@dsc.ufpb.br', cannotVrfy],
  ['VRFY a@@b', '501 5.1.3 Bad recipient address syntax'],
  ['VRFY', '501 5.5.4 Syntax error in parameters or arguments'],
  '# EXPN (RFC 5321 §3.5.2): a list\'s members, one per line',
  ['EXPN staff@dc.uece.br', '250-2.1.5 <suzana@dc.uece.br>', is('helvecio@dsc.ufpb.br')],
  ['EXPN equipe@dc.uece.br', '250-2.1.5 <suzana@dc.uece.br>', is('pascal@dc.uece.br')],
  ['EXPN fora@dc.uece.br', is('helvecio@dsc.ufpb.br')],
  '# a file target is the operator\'s business: never shown',
  ['EXPN arquivo@dc.uece.br', is('pascal@dc.uece.br')],
  ['EXPN suzana@dc.uece.br', is('suzana@dc.uece.br')],
  ['EXPN jacques@dc.uece.br', noSuchUser],
  ['QUIT', bye],
]);

async function run(localAddress: string, text: string): Promise<void> {
  const c = await SmtpTestClient.open(mx, { localAddress });
  try {
    await c.transcript(ehlo + text);
  } finally {
    c.close();
  }
}

test('untrusted client (127.0.0.9): VRFY 252 for every name, EXPN 502', async () => {
  await run('127.0.0.9', stranger);
});

test('trusted network (127.0.0.1): VRFY confirms mailboxes, EXPN shows members', async () => {
  await run('127.0.0.1', trusted);
});

test('authenticated user from the untrusted address: same answers as the trusted network', async () => {
  const c = await SmtpTestClient.open(submission, { localAddress: '127.0.0.9' });
  try {
    await c.transcript(`
${greeting}
C: EHLO client.test
${ehloReply(9)}
C: STARTTLS!
C: EHLO client.test
${ehloReply(9)}
# before AUTH this address is a stranger
C: VRFY jacques@dc.uece.br
S: ${cannotVrfy}
C: EXPN staff@dc.uece.br
S: ${noExpn}
C: AUTH PLAIN ${Buffer.from('\0pascal@dc.uece.br\0secret').toString('base64')}
S: 235 2.7.0 Authentication successful
${trusted}`);
  } finally {
    c.close();
  }
});
