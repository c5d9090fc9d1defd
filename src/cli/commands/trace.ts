/**
 * @module trace-command
 * `correio trace ID`: the life of one queued message: how it was received (its own Received
 * field and arrival time), how each recipient was resolved (the alias chain recorded on the
 * envelope), every delivery attempt, and where each recipient stands now (the operator's word,
 * then the envelope's explicit state).
 * Standards: RFC 5321 §4.4 (the Received trace field); seed §2 (each attempt recorded).
 * Security: reads only the stored header block (bounded), never the body.
 * Limitations: a message that has left the queue (delivered, bounced or deleted) can no longer
 *   be traced: the spool keeps no history and the mail log is not searched.
 */
import type { Command } from 'commander';
import type { Readable } from 'node:stream';
import { addressToString } from '../../core/index.js';
import type { FsQueueStore, QueuedMessage } from '../../queue/index.js';
import { findQueuedMessage } from '../../queue/index.js';
import { CliError, exitCodes, type CliContext } from '../cli-context.js';
import { describeAttempt, isoTime, stateLabel, stateText, withSpool } from './queue.js';

/** Header bytes read to find the Received field. */
const HEADER_READ_CAP = 64 * 1024;

/** The first (topmost, i.e. ours) Received field of a stored message, unfolded; undefined when absent. */
async function firstReceived(store: FsQueueStore, messageId: string): Promise<string | undefined> {
  let stream: Readable;
  try {
    stream = await store.openMessage(messageId);
  } catch {
    return undefined;
  }
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const c of stream) {
      const b = c as Buffer;
      chunks.push(b);
      total += b.length;
      if (total >= HEADER_READ_CAP || b.includes('\r\n\r\n')) break;
    }
  } finally {
    stream.destroy();
  }
  const text = Buffer.concat(chunks, total).toString('utf8');
  const end = text.indexOf('\r\n\r\n');
  const head = end >= 0 ? text.slice(0, end + 2) : text;
  // RFC 5322 §2.2.3: unfold CRLF WSP
  const m = /(?:^|\r\n)Received:([^\r\n]*(?:\r\n[ \t][^\r\n]*)*)/i.exec(head);
  return m ? m[1].replace(/\r\n/g, '').replace(/\s+/g, ' ').trim() : undefined;
}

function printTrace(ctx: CliContext, m: QueuedMessage, received: string | undefined, now: number): void {
  ctx.print(`message ${m.messageId}`);
  ctx.print(`  received ${isoTime(m.arrivedAt)} from <${m.sender === null ? '' : addressToString(m.sender)}>, ${m.size} octets`);
  ctx.print(`    Received: ${received ?? '(no Received field found)'}`);
  for (const e of m.envelopes) {
    const rcpt = addressToString(e.recipient);
    const given = e.originalRecipient ? addressToString(e.originalRecipient) : rcpt;
    ctx.print(`  recipient ${given} (envelope ${e.id})`);
    const chain = [...(e.resolvedVia ?? [])];
    if (chain.length === 0 || chain[0].toLowerCase() !== given.toLowerCase()) chain.unshift(given);
    if (chain.at(-1)?.toLowerCase() !== rcpt.toLowerCase()) chain.push(rcpt);
    ctx.print(`    resolved: ${chain.join(' -> ')} => ${e.route.transport}:${e.route.nextHop}`);
    if (e.attempts.length === 0) ctx.print('    no delivery attempt yet');
    e.attempts.forEach((a, i) => ctx.print(`    attempt ${i + 1}: ${describeAttempt(a)}`));
    if (e.delayWarnedAt !== undefined) ctx.print(`    delay warning sent ${isoTime(e.delayWarnedAt)}`);
    const state = stateLabel(e, now);
    const detail =
      state === 'deferred' ? `, next attempt ${isoTime(e.nextAttemptAt)}`
      : state === 'bouncing' ? ' (failure notice to the sender pending, then removed)'
      : state === 'delivered' ? ' (success notice pending, then removed)'
      : state === 'active' ? ' (due now)'
      : '';
    ctx.print(`    now: ${state}${detail}`);
    ctx.print(`    queue state: ${stateText(e)}`);
  }
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('trace')
    .description('the life of one queued message: received, resolved, each attempt, current state')
    .argument('<id>', 'message id or envelope id')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const found = await withSpool(ctx.config(cmd), async (store) => {
        const m = await findQueuedMessage(store, id);
        return m ? { m, received: await firstReceived(store, m.messageId) } : undefined;
      });
      if (!found) {
        throw new CliError(`no such message: ${id} is not in the queue (delivered, bounced or deleted, or never queued)`, exitCodes.dataErr);
      }
      printTrace(ctx, found.m, found.received, Date.now());
    });
}
