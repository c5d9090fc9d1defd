/**
 * @module trace-command
 * `correio trace ID`: the life of one queued message (admin/message-trace.ts, the same value
 * the admin API returns): how it was received, how each recipient was resolved, every
 * delivery attempt, and where each recipient stands now (the operator's word, then the
 * envelope's explicit state).
 * Standards: RFC 5321 §4.4 (the Received trace field); seed §2 (each attempt recorded).
 * Security: reads only the stored header block (bounded), never the body.
 * Limitations: a message that has left the queue (delivered, bounced or deleted) can no longer
 *   be traced: the spool keeps no history and the mail log is not searched.
 */
import type { Command } from 'commander';
import { traceMessage, type MessageTrace } from '../../admin/index.js';
import { CliError, exitCodes, type CliContext } from '../cli-context.js';
import { withSpool } from './queue.js';

function printTrace(ctx: CliContext, t: MessageTrace): void {
  ctx.print(`message ${t.id}`);
  ctx.print(`  received ${t.arrivedAt} from <${t.sender}>, ${t.size} octets`);
  ctx.print(`    Received: ${t.received ?? '(no Received field found)'}`);
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
    .description('the life of one queued message: received, resolved, each attempt, current state')
    .argument('<id>', 'message id or envelope id')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const found = await withSpool(ctx.config(cmd), (store) => traceMessage(store, id));
      if (!found) {
        throw new CliError(`no such message: ${id} is not in the queue (delivered, bounced or deleted, or never queued)`, exitCodes.dataErr);
      }
      printTrace(ctx, found);
    });
}
