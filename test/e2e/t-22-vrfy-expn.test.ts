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

const ehlo = `
S: 220 dc.uece.br Simple Mail Transfer Service Ready
C: EHLO client.test
S: 250-dc.uece.br
S~ (250-.*)
S~ (250-.*)
S~ (250-.*)
S~ (250-.*)
S~ (250-.*)
S~ (250-.*)
S~ (250-.*)
S~ (250-.*)
S: 250 HELP
`;

const stranger = `
C: VRFY suzana
S: 252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery
C: VRFY <suzana@dc.uece.br>
S: 252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery
C: VRFY jacques@dc.uece.br
S: 252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery
C: EXPN staff@dc.uece.br
S: 502 5.5.1 Command not implemented
C: EXPN jacques@dc.uece.br
S: 502 5.5.1 Command not implemented
C: QUIT
S: 221 2.0.0 dc.uece.br Service closing transmission channel
`;

const trusted = `
C: VRFY suzana
S: 250 2.1.5 <suzana@dc.uece.br>
C: VRFY <pascal@dc.uece.br>
S: 250 2.1.5 <pascal@dc.uece.br>
C: VRFY jacques@dc.uece.br
S: 550 5.1.1 No such user here
C: VRFY jacques
S: 550 5.1.1 No such user here
# an alias and a role that end in one mailbox name that mailbox (RFC 5321 §3.5.1)
C: VRFY chefe@dc.uece.br
S: 250 2.1.5 <suzana@dc.uece.br>
C: VRFY chefe-de-departamento@dc.uece.br
S: 250 2.1.5 <pascal@dc.uece.br>
C: VRFY suzana+avisos@dc.uece.br
S: 250 2.1.5 <suzana@dc.uece.br>
# a list or a one-to-many alias: mail to it is delivered, so the name is confirmed
C: VRFY staff@dc.uece.br
S: 250 2.1.5 <staff@dc.uece.br>
C: VRFY equipe@dc.uece.br
S: 250 2.1.5 <equipe@dc.uece.br>
# not ours to verify
C: VRFY helvecio@dsc.ufpb.br
S: 252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery
C: VRFY a@@b
S: 501 5.1.3 Bad recipient address syntax
C: VRFY
S: 501 5.5.4 Syntax error in parameters or arguments
# EXPN (RFC 5321 §3.5.2): a list's members, one per line
C: EXPN staff@dc.uece.br
S: 250-2.1.5 <suzana@dc.uece.br>
S: 250 2.1.5 <helvecio@dsc.ufpb.br>
C: EXPN equipe@dc.uece.br
S: 250-2.1.5 <suzana@dc.uece.br>
S: 250 2.1.5 <pascal@dc.uece.br>
C: EXPN fora@dc.uece.br
S: 250 2.1.5 <helvecio@dsc.ufpb.br>
# a file target is the operator's business: never shown
C: EXPN arquivo@dc.uece.br
S: 250 2.1.5 <pascal@dc.uece.br>
C: EXPN suzana@dc.uece.br
S: 250 2.1.5 <suzana@dc.uece.br>
C: EXPN jacques@dc.uece.br
S: 550 5.1.1 No such user here
C: QUIT
S: 221 2.0.0 dc.uece.br Service closing transmission channel
`;

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
S: 220 dc.uece.br Simple Mail Transfer Service Ready
C: EHLO client.test
S~ (250-.*)
S~ (250-.*)
S~ (250-.*)
S~ (250-.*)
S~ (250-.*)
S~ (250-.*)
S~ (250-.*)
S~ (250-.*)
S~ (250-.*)
S: 250 HELP
C: STARTTLS!
C: EHLO client.test
S~ (250-.*)
S~ (250-.*)
S~ (250-.*)
S~ (250-.*)
S~ (250-.*)
S~ (250-.*)
S~ (250-.*)
S~ (250-.*)
S~ (250-.*)
S: 250 HELP
# before AUTH this address is a stranger
C: VRFY jacques@dc.uece.br
S: 252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery
C: EXPN staff@dc.uece.br
S: 502 5.5.1 Command not implemented
C: AUTH PLAIN ${Buffer.from('\0pascal@dc.uece.br\0secret').toString('base64')}
S: 235 2.7.0 Authentication successful
${trusted}`);
  } finally {
    c.close();
  }
});
