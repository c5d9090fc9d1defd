/**
 * @module submission-methods
 * Identity/get and EmailSubmission/get, /set (RFC 8621 §6, §7): sending a stored Email (a
 * draft) through the server's submission path (core MessageSubmitter: the same sender rules,
 * relay control, intake and DKIM signing as SMTP submission), then the implicit Email/set of
 * onSuccessUpdateEmail / onSuccessDestroyEmail (e.g. move the draft to Sent).
 * Standards: RFC 8621 §6.1 (Identity), §7 (EmailSubmission; envelope from the message when
 *   absent, §7.5: Bcc removed from the sent message), §7.5.1 (SetErrors: invalidEmail,
 *   noRecipients, forbiddenFrom, forbiddenMailFrom, forbiddenToSend).
 * Security: the one identity is the account's address; the sender rules still decide (a From
 *   the user does not own is refused as over SMTP).
 * Limitations: no delayed sending (maxDelayedSend 0), no undo; EmailSubmission/get knows the
 *   submissions of this process only; no EmailSubmission/changes or /query.
 */
import { MailError } from '../../core/index.js';
import { findHeader } from '../../protocol/mime/index.js';
import { parseAddresses } from './email-parse.js';
import { MessageCache, isoDate } from './email-read.js';
import type { AccountSession } from './jmap-account.js';
import { MethodError, capabilityUris, type Args, type JmapMethod } from './jmap-protocol.js';

interface Submission {
  id: string;
  identityId: string;
  emailId: string;
  threadId: string;
  envelope: { mailFrom: { email: string }; rcptTo: { email: string }[] };
  sendAt: string;
  undoStatus: 'final';
  deliveryStatus: null;
  dsnBlobIds: string[];
  mdnBlobIds: string[];
}

/** Submissions made by this process, per account (EmailSubmission/get). */
const sent = new Map<string, Submission[]>();

/** The message as sent: the Bcc field removed (RFC 8621 §7.5), CRLF line ends kept. */
function withoutBcc(raw: Buffer): Buffer {
  const text = raw.toString('latin1');
  const end = text.search(/\r?\n\r?\n/);
  const head = end < 0 ? text : text.slice(0, end);
  const rest = end < 0 ? '' : text.slice(end);
  const kept = head.split(/\r?\n(?![ \t])/).filter((f) => !/^bcc\s*:/i.test(f));
  return Buffer.from(kept.join('\r\n') + rest, 'latin1');
}

export function submissionMethods(account: AccountSession, displayName: () => Promise<string | undefined>): [string, JmapMethod][] {
  const cap = capabilityUris.submission;
  const cache = new MessageCache(account);
  return [
    [
      'Identity/get',
      {
        capability: cap,
        run: async (args) => {
          account.check(args);
          const identity = { id: 'i0', name: (await displayName()) ?? '', email: account.user, replyTo: null, bcc: null, textSignature: '', htmlSignature: '', mayDelete: false };
          const wanted = Array.isArray(args.ids) ? (args.ids as string[]) : ['i0'];
          return { accountId: account.accountId, state: 'i0', list: wanted.includes('i0') ? [identity] : [], notFound: wanted.filter((i) => i !== 'i0') };
        },
      },
    ],
    [
      'EmailSubmission/get',
      {
        capability: cap,
        run: (args) => {
          account.check(args);
          const mine = sent.get(account.accountId) ?? [];
          const wanted = Array.isArray(args.ids) ? (args.ids as string[]) : mine.map((s) => s.id);
          return Promise.resolve({
            accountId: account.accountId,
            state: String(mine.length),
            list: mine.filter((s) => wanted.includes(s.id)),
            notFound: wanted.filter((id) => !mine.some((s) => s.id === id)),
          });
        },
      },
    ],
    [
      'EmailSubmission/set',
      {
        capability: cap,
        run: async (args, ctx) => {
          account.check(args);
          if (args.update || args.destroy) throw new MethodError('invalidArguments', 'submissions are final here: nothing to update or destroy');
          const mine = sent.get(account.accountId) ?? [];
          const oldState = String(mine.length);
          const created: Args = {};
          const notCreated: Args = {};
          for (const [cid, raw] of Object.entries((args.create ?? {}) as Record<string, Args>)) {
            const emailId = typeof raw.emailId === 'string' ? (raw.emailId.startsWith('#') ? ctx.createdIds.get(raw.emailId.slice(1)) : raw.emailId) : undefined;
            const view = await account.view();
            const e = emailId === undefined ? undefined : view.emailById.get(emailId);
            if (!e) {
              notCreated[cid] = { type: 'invalidProperties', description: 'emailId names no email here', properties: ['emailId'] };
              continue;
            }
            if (raw.identityId !== undefined && raw.identityId !== 'i0') {
              notCreated[cid] = { type: 'invalidProperties', description: 'no such identity', properties: ['identityId'] };
              continue;
            }
            const message = await cache.raw(e);
            const { parsed } = await cache.load(e);
            const given = raw.envelope as { mailFrom?: { email?: unknown }; rcptTo?: { email?: unknown }[] } | undefined | null;
            const rcptTo = given?.rcptTo
              ? given.rcptTo.map((r) => String(r.email))
              : ['to', 'cc', 'bcc'].flatMap((h) => (parseAddresses(findHeader(parsed.fields, h)) ?? []).map((a) => a.email));
            const mailFrom = typeof given?.mailFrom?.email === 'string' ? given.mailFrom.email : account.user;
            if (rcptTo.length === 0) {
              notCreated[cid] = { type: 'noRecipients', description: 'the message names no recipient (To, Cc, Bcc) and no envelope was given' };
              continue;
            }
            try {
              const r = await account.services.submitter.submit({
                user: account.user,
                protocol: 'HTTP',
                remoteAddress: account.client.ip,
                secure: account.client.secure,
                sender: mailFrom,
                recipients: [...new Set(rcptTo)],
                message: withoutBcc(message),
              });
              const s: Submission = {
                id: `s${r.queueId.replace(/[^A-Za-z0-9_-]/g, '')}`,
                identityId: 'i0',
                emailId: e.id,
                threadId: e.threadId,
                envelope: { mailFrom: { email: mailFrom }, rcptTo: r.accepted.map((email) => ({ email })) },
                sendAt: isoDate(Date.now()),
                undoStatus: 'final',
                deliveryStatus: null,
                dsnBlobIds: [],
                mdnBlobIds: [],
              };
              mine.push(s);
              if (mine.length > 1000) mine.shift();
              sent.set(account.accountId, mine);
              ctx.createdIds.set(cid, s.id);
              created[cid] = { id: s.id, sendAt: s.sendAt, undoStatus: s.undoStatus };
            } catch (err) {
              if (!(err instanceof MailError)) throw err;
              const text = err.reply.lines.join(' ');
              const type = err.reply.code === 553 || /not owned|From header/i.test(text) ? 'forbiddenFrom' : err.reply.code < 500 ? 'forbiddenToSend' : 'forbiddenToSend';
              notCreated[cid] = { type, description: `${err.reply.code} ${err.reply.status ? `${err.reply.status} ` : ''}${text}` };
            }
          }
          // RFC 8621 §7.5: the implicit Email/set of onSuccessUpdateEmail / onSuccessDestroyEmail
          const update: Args = {};
          for (const [ref, patch] of Object.entries((args.onSuccessUpdateEmail ?? {}) as Args)) {
            const sid = ref.startsWith('#') ? (created[ref.slice(1)] as { id?: string } | undefined)?.id : ref;
            const s = mine.find((x) => x.id === sid);
            if (s) update[s.emailId] = patch;
          }
          const destroy = ((args.onSuccessDestroyEmail ?? []) as string[]).flatMap((ref) => {
            const sid = ref.startsWith('#') ? (created[ref.slice(1)] as { id?: string } | undefined)?.id : ref;
            const s = mine.find((x) => x.id === sid);
            return s ? [s.emailId] : [];
          });
          if (Object.keys(update).length > 0 || destroy.length > 0) await ctx.also('Email/set', { accountId: account.accountId, update, destroy });
          return {
            accountId: account.accountId,
            oldState,
            newState: String(mine.length),
            created: Object.keys(created).length ? created : null,
            notCreated: Object.keys(notCreated).length ? notCreated : null,
            updated: null,
            destroyed: null,
            notUpdated: null,
            notDestroyed: null,
          };
        },
      },
    ],
  ];
}
