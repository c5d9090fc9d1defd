/**
 * @module trace-command
 * `correio trace ID`: the life of one queued message (admin/message-trace.ts, the same value
 * the admin API returns): how it was received, how each recipient was resolved, every
 * delivery attempt, and where each recipient stands now (the operator's word, then the
 * envelope's explicit state).
 * Standards: RFC 5321 §4.4 (the Received trace field); seed §2 (each attempt recorded).
 * Security: reads only the stored header block (bounded), never the body.
 * Limitations: a message that has left the queue (delivered, bounced, expired) is told from
 *   serve's delivery history (`[log] history`, default 7 days; log/delivery-history.ts), which
 *   keeps no alias chain and no Received field; a message deleted by the operator is not there.
 */
import type { Command } from 'commander';
import { pastTrace, traceMessage, type MessageTrace } from '../../admin/index.js';
import { findHistory } from '../../log/index.js';
import { CliError, exitCodes, type CliContext } from '../cli-context.js';
import { withSpool } from './queue.js';

function printTrace(ctx: CliContext, t: MessageTrace): void {
  ctx.print(`message ${t.id}${t.fromHistory ? ' (left the queue; from the delivery history)' : ''}`);
  ctx.print(`  received ${t.arrivedAt} from <${t.sender}>, ${t.size} octets`);
  if (t.fromHistory) ctx.print(`    ${t.received ?? '(its arrival is older than the history)'}`);
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
    .argument('<id>', 'message id or envelope id')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const config = ctx.config(cmd);
      const found = (await withSpool(config, (store) => traceMessage(store, id))) ?? pastTrace(findHistory(config.dataDir, id));
      if (!found) {
        throw new CliError(`no such message: ${id} is not in the queue or in the delivery history (older than [log] history, deleted, or never queued)`, exitCodes.dataErr);
      }
      printTrace(ctx, found);
    });
}
