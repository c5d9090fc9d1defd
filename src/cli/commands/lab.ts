/**
 * @module lab-command
 * `correio lab up | run SCENARIO | down`: the seed's world on one machine, unprivileged (issue
 * 18): two correio sites on 127.0.0.2 and 127.0.0.3, a DNS server answering their MX records,
 * the seed's users, aliases, list and role; the seed's examples played and told; all stopped and
 * removed again. `lab dns` (not listed) is the lab's DNS server process.
 * Standards: sysexits(3); see cli/lab/ for the rest.
 * Security: loopback addresses and high ports only; see lab-control.ts.
 * Limitations: Linux (any user may bind 127.0.0.0/8; /proc for PID checks).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { DnsZone } from '../../dns/dns-zone.js';
import { parseDuration } from '../../util/index.js';
import { CliError, exitCodes, type CliContext } from '../cli-context.js';
import { LabError, describeLab, labDown, labUp } from '../lab/lab-control.js';
import { readState, running } from '../lab/lab-processes.js';
import { runScenario, scenarios } from '../lab/lab-scenarios.js';

const EX_UNAVAILABLE = 69;

function labDir(ctx: CliContext, given: string | undefined): string {
  return resolve(ctx.cwd, given ?? ctx.env.CORREIO_LAB_DIR ?? 'correio-lab');
}

/** Runs a lab step; its problems become one line and their status. */
async function step<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (err) {
    if (err instanceof LabError) throw new CliError(err.message, err.exitCode);
    throw err;
  }
}

function port(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1024 || n > 65533) throw new CliError(`--port ${v}: expected a port from 1024 to 65533 (the lab uses it and the next two)`, exitCodes.usage);
  return n;
}

export function register(program: Command, ctx: CliContext): void {
  const lab = program.command('lab').description("the seed's sites, DNS and examples on one machine (up, run SCENARIO, down)");
  const dirOption = '--dir <DIR>';
  const dirHelp = 'the lab\'s folder (default $CORREIO_LAB_DIR, then ./correio-lab)';

  lab
    .command('up')
    .description("start the seed's world: dsc.ufpb.br on 127.0.0.2, dc.uece.br on 127.0.0.3, a DNS server for their MX records")
    .option(dirOption, dirHelp)
    .option('--port <N>', 'SMTP port of every site (and their mx_port); POP3 and IMAP on the next two', '2525')
    .action(async (opts: { dir?: string; port: string }) => {
      const state = await step(() => labUp(labDir(ctx, opts.dir), port(opts.port)));
      for (const l of describeLab(state)) ctx.print(l);
    });

  lab
    .command('run')
    .description(`play one of the seed's examples on the running lab and tell what happened (${scenarios.map((s) => s.name).join(', ')}, or all)`)
    .argument('[SCENARIO]', 'a scenario name, or "all"')
    .option(dirOption, dirHelp)
    .option('--list', 'list the scenarios')
    .option('--timeout <DURATION>', 'how long to wait for each expected message', '60s')
    .action(async (name: string | undefined, opts: { dir?: string; list?: boolean; timeout: string }) => {
      if (opts.list || name === undefined) {
        for (const s of scenarios) ctx.print(`${s.name.padEnd(13)} ${s.title}`);
        if (name === undefined && !opts.list) throw new CliError('name a scenario (or "all"): correio lab run figure5', exitCodes.usage);
        return;
      }
      const names = name === 'all' ? scenarios.map((s) => s.name) : [name];
      if (!scenarios.some((s) => s.name === name) && name !== 'all') {
        throw new CliError(`no scenario "${name}": one of ${scenarios.map((s) => s.name).join(', ')}, or all`, exitCodes.usage);
      }
      let timeoutMs: number;
      try {
        timeoutMs = parseDuration(opts.timeout);
      } catch {
        throw new CliError(`--timeout ${opts.timeout}: expected a duration such as "30s" or "2m"`, exitCodes.usage);
      }
      const dir = labDir(ctx, opts.dir);
      const state = await readState(dir);
      if (!state || !state.sites.some((s) => running(s.pid, s.config))) {
        throw new CliError(`no lab is running in ${dir}: start one with "correio lab up${opts.dir ? ` --dir ${opts.dir}` : ''}"`, EX_UNAVAILABLE);
      }
      const failed: string[] = [];
      for (const n of names) {
        const r = await runScenario(state, n, timeoutMs);
        for (const l of r.lines) ctx.print(l);
        ctx.print('');
        if (!r.ok) failed.push(n);
      }
      if (failed.length > 0) throw new CliError(`not as the seed says: ${failed.join(', ')} (see the site logs, serve.log in each site's folder)`, exitCodes.software);
    });

  lab
    .command('down')
    .description('stop the lab and remove its folder')
    .option(dirOption, dirHelp)
    .action(async (opts: { dir?: string }) => {
      const dir = await step(() => labDown(labDir(ctx, opts.dir)));
      ctx.print(`correio lab stopped; ${dir} removed`);
    });

  // the lab's DNS server (started by `lab up`): answers the zone until SIGTERM
  lab
    .command('dns', { hidden: true })
    .requiredOption('--zone <FILE>', 'the zone as JSON (lab up writes it)')
    .requiredOption('--port-file <FILE>', 'where to write the UDP/TCP port bound on 127.0.0.1')
    .action(async (opts: { zone: string; portFile: string }) => {
      const zone = JSON.parse(await readFile(resolve(ctx.cwd, opts.zone), 'utf8')) as DnsZone;
      // loaded here only: every other correio command starts without dns-packet
      const { startZoneServer } = await import('../../dns/zone-server.js');
      const server = await startZoneServer(zone);
      await writeFile(resolve(ctx.cwd, opts.portFile), `${server.port}\n`);
      await new Promise<void>((done) => {
        const stop = (): void => void server.close().then(done);
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
      });
    });
}
