/**
 * @module trace-command
 * `correio trace ID`: the life of one queued message (admin/message-trace.ts, the same value
 * the admin API returns): how it was received, how each recipient was resolved, every
 * delivery attempt, and where each recipient stands now (the operator's word, then the
 * envelope's explicit state).
 * Standards: RFC 5321 §4.4 (the Received trace field); seed §2 (each attempt recorded).
 * Security: reads only the stored header block (bounded), never the body.
 * Limitations: a message that has left the queue (delivered, bounced, expired), and a queued
 *   message's recipients that already left it, are told from serve's delivery history
 *   (`[log] history`, default 7 days; log/delivery-history.ts), with its alias chains, its
 *   Received field and the operator's delete or bounce (also one done with the server stopped).
 *   `--message-id` finds queue ids by the Message-ID field of the `received` events the history
 *   keeps, so only messages received while it was kept (and within `[log] history`).
 */
import type { Command } from 'commander';
import { traceWithHistory, type MessageTrace } from '../../admin/index.js';
import { findByMessageIdField } from '../../log/index.js';
import { CliError, exitCodes, type CliContext } from '../cli-context.js';
import { withSpool } from './queue.js';

function printTrace(ctx: CliContext, t: MessageTrace): void {
  ctx.print(`message ${t.id}${t.fromHistory ? ' (left the queue; from the delivery history)' : ''}`);
  ctx.print(`  received ${t.arrivedAt} from <${t.sender}>, ${t.size} octets`);
  if (t.fromHistory) {
    ctx.print(`    ${t.received ?? '(its arrival is older than the history)'}`);
    if (t.receivedField !== undefined) ctx.print(`    Received: ${t.receivedField}`);
  }
  else ctx.print(`    Received: ${t.received ?? '(no Received field found)'}`);
  for (const r of t.recipients) {
    ctx.print(`  recipient ${r.given} (envelope ${r.envelopeId})`);
    ctx.print(`    resolved: ${r.chain.join(' -> ')} => ${r.route}`);
    if (r.attempts.length === 0) ctx.print('    no delivery attempt yet');
    r.attempts.forEach((a, i) => ctx.print(`    attempt ${i + 1}: ${a}`));
    if (r.delayWarnedAt !== null) ctx.print(`    delay warning sent ${r.delayWarnedAt}`);
    const detail = r.detail === '' ? '' : r.state === 'deferred' ? `, ${r.detail}` : ` (${r.detail})`;
    ctx.print(`    now: ${r.state}${detail}`);
    ctx.print(`    queue state: ${r.queueState}`);
  }
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('trace')
    .description('the life of one message, queued or gone: received, resolved, each attempt, current state')
    .argument('[id]', 'message id or envelope id')
    .option('--message-id <field>', "the message's Message-ID field instead of an id, e.g. '<abc@example.org>' (found in the delivery history)")
    .action(async (id: string | undefined, opts: { messageId?: string }, cmd: Command) => {
      const config = ctx.config(cmd);
      if ((id === undefined) === (opts.messageId === undefined)) {
        throw new CliError('give either a queue id or --message-id <field>, not both and not neither', exitCodes.usage);
      }
      let ids = id === undefined ? [] : [id];
      if (opts.messageId !== undefined) {
        ids = await findByMessageIdField(config.dataDir, opts.messageId);
        if (ids.length === 0) {
          throw new CliError(`no message with Message-ID ${opts.messageId} in the delivery history (older than [log] history, or received before the history was kept)`, exitCodes.dataErr);
        }
      }
      for (const one of ids) {
        // a queued message's recipients that already left (delivered, bounced) come from the history too
        const found = await withSpool(config, (store) => traceWithHistory(store, config.dataDir, one));
        if (!found) {
          throw new CliError(`no such message: ${one} is not in the queue or in the delivery history (older than [log] history, deleted, or never queued)`, exitCodes.dataErr);
        }
        printTrace(ctx, found);
      }
    });
}
