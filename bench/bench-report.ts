/**
 * @module bench-report
 * The bench's summary: one table row per scenario and MTA (medians, min–max, CPU per message,
 * PostgreSQL's where measured), the big-queue and idle figures, the ratios to Postfix and the
 * errors. Split from run-bench.ts.
 * Standards: none. Security: none. Limitations: none.
 */
import { formatDeferred, isDeferredScenario, type DeferredScenario } from './deferred-scenario.js';
import { formatIdle } from './idle-scenario.js';
import type { Sample } from './bench-context.js';
import type { PgMta } from './postgres-scenario.js';

export type Scenario = 'raw' | 'accept' | 'relay' | 'maildir' | 'checks' | 'submission' | 'signing' | 'idle10k' | 'jmap' | 'imap' | DeferredScenario;
/** `correio-p2`…: correio with `[smtp] processes` = 2… (BENCH_PROCESSES) */
export type Mta = 'correio' | 'postfix' | 'sink' | PgMta | `correio-p${number}`;

export interface Row {
  scenario: Scenario;
  mta: Mta;
  samples: Sample[];
  errors: string[];
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
export const fmt = (xs: number[]): string =>
  xs.length === 0 ? '–' : `${median(xs).toFixed(0)} (${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)})`;

export function report(rows: Row[], o: { messages: number; size: number; sessions: number; runs: number; load: string; warmup: number }): void {
  const lines: string[] = [];
  lines.push('| scenario | MTA | accept msg/s median (min–max) | end-to-end msg/s median (min–max) | CPU ms/msg | PostgreSQL CPU ms/msg | machine busy | runs ok |');
  lines.push('|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    const acc = r.samples.map((s) => s.accept);
    const e2e = r.samples.flatMap((s) => (s.e2e === undefined ? [] : [s.e2e]));
    const cpu = r.samples.flatMap((s) => (s.cpuMsPerMsg === undefined ? [] : [s.cpuMsPerMsg]));
    const busy = r.samples.map((s) => s.busy);
    const pgCpu = r.samples.flatMap((s) => (s.pgCpuMsPerMsg === undefined ? [] : [s.pgCpuMsPerMsg]));
    lines.push(
      `| ${r.scenario} | ${r.mta} | ${fmt(acc)} | ${fmt(e2e)} | ${cpu.length ? median(cpu).toFixed(2) : '–'} | ${pgCpu.length ? median(pgCpu).toFixed(2) : '–'} | ` +
        `${busy.length ? (median(busy) * 100).toFixed(0) + ' %' : '–'} | ${r.samples.length}/${r.samples.length + r.errors.length} |`,
    );
  }
  const ratios: string[] = [];
  for (const s of ['accept', 'relay', 'maildir'] as Scenario[]) for (const c of rows.filter((r) => r.scenario === s && (r.mta === 'correio' || r.mta.startsWith('correio-p')))) {
    const p = rows.find((r) => r.scenario === s && r.mta === 'postfix');
    if (!p || c.samples.length === 0 || p.samples.length === 0) continue;
    const ra = median(c.samples.map((x) => x.accept)) / median(p.samples.map((x) => x.accept));
    const ce = c.samples.flatMap((x) => (x.e2e ? [x.e2e] : []));
    const pe = p.samples.flatMap((x) => (x.e2e ? [x.e2e] : []));
    // issue 19's goals (the maildir row's accept is accept while delivering)
    const target = s === 'accept' ? 'accept ≥ 3' : s === 'relay' ? 'end-to-end ≥ 3' : 'accept ≥ 2, end-to-end ≥ 2';
    ratios.push(
      `| ${s} | ${c.mta} | ${ra.toFixed(2)} | ${ce.length && pe.length ? (median(ce) / median(pe)).toFixed(2) : '–'} | ${target} |`,
    );
  }
  const warm = o.warmup > 0 ? `, each accept/relay/maildir window after ${o.warmup} untimed messages to the same instance (BENCH_WARMUP)` : ', no warm-up (BENCH_WARMUP=0)';
  console.log(`\nResults: ${o.messages} messages of ${o.size} octets, ${o.sessions} sessions, ${o.runs} runs, load: ${o.load}${warm}\n`);
  console.log(lines.join('\n'));
  const accept = rows.find((r) => r.scenario === 'accept' && r.mta === 'correio');
  for (const r of rows.filter((x) => (isDeferredScenario(x.scenario) || x.scenario === 'idle10k') && x.samples.length > 0)) {
    const ratio = accept && accept.samples.length > 0
      ? ` (${(median(r.samples.map((x) => x.accept)) / median(accept.samples.map((x) => x.accept))).toFixed(2)} × correio's empty-queue accept in this run)`
      : '';
    console.log(`\n${r.scenario}: accept ${fmt(r.samples.map((x) => x.accept))} msg/s${ratio}`);
    for (const x of r.samples) if (x.deferred) console.log(`  ${formatDeferred(x.deferred)}`);
    for (const x of r.samples) if (x.idle) console.log(`  ${formatIdle(x.idle)}`);
  }
  // issue 15: what the inbound checks (checks-scenario.ts) and outbound signing (signing-scenario.ts)
  // cost, each against its load without them in this same run, and correio against Postfix
  const e2e = (rs: Row): number[] => rs.samples.flatMap((x) => (x.e2e === undefined ? [] : [x.e2e]));
  const acc = (rs: Row): number => median(rs.samples.map((x) => x.accept));
  const cpu = (rs: Row): number[] => rs.samples.flatMap((x) => (x.cpuMsPerMsg === undefined ? [] : [x.cpuMsPerMsg]));
  const found = (scenario: Scenario, mta: Mta): Row | undefined => rows.find((r) => r.scenario === scenario && r.mta === mta && r.samples.length > 0);
  for (const [on, off, what, load] of [['checks', 'maildir', 'checks', 'maildir load'], ['signing', 'submission', 'signing', 'submission load']] as const) {
    for (const mta of ['correio', 'postfix'] as const) {
      const with_ = found(on, mta);
      const plain = found(off, mta);
      if (!with_ || !plain) continue;
      const e = e2e(with_).length && e2e(plain).length ? median(e2e(with_)) / median(e2e(plain)) : undefined;
      const c = cpu(with_).length && cpu(plain).length ? median(cpu(with_)) / median(cpu(plain)) : undefined;
      console.log(`
${what} on ÷ off (${mta}, ${load}): accept ${(acc(with_) / acc(plain)).toFixed(2)}${e === undefined ? '' : `, end-to-end ${e.toFixed(2)}`}${c === undefined ? '' : `, CPU per message ${c.toFixed(2)}`}${mta === 'correio' ? ` (goal: ${what} cost under 20 %, i.e. ≥ 0.80)` : ''}`);
    }
    const cc = found(on, 'correio');
    const pc = found(on, 'postfix');
    if (cc && pc) {
      const e = e2e(cc).length && e2e(pc).length ? median(e2e(cc)) / median(e2e(pc)) : undefined;
      const c = cpu(cc).length && cpu(pc).length ? median(cpu(cc)) / median(cpu(pc)) : undefined;
      console.log(`${what} on, correio ÷ Postfix: accept ${(acc(cc) / acc(pc)).toFixed(2)}${e === undefined ? '' : `, end-to-end ${e.toFixed(2)}`}${c === undefined ? '' : `, CPU per message ${c.toFixed(2)}`} (goal: correio stays ahead, > 1)`);
    }
  }
  if (ratios.length > 0) {
    console.log('\n| ratio correio ÷ Postfix | MTA | accept | end-to-end | target |\n|---|---|---|---|---|');
    console.log(ratios.join('\n'));
  }
  for (const r of rows.filter((x) => x.samples.some((y) => y.procs))) {
    console.log(`\nCPU per process, ${r.scenario}/${r.mta} (share of one core over the measured window):`);
    for (const x of r.samples) if (x.procs) console.log(`  ${x.procs}`);
  }
  for (const r of rows) for (const e of r.errors) console.log(`error: ${r.scenario}/${r.mta}: ${e}`);
}

