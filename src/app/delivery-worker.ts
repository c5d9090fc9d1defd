/**
 * @module delivery-worker
 * The entry of the delivery worker thread (`[delivery] worker = true`): the queue runner, the
 * transports and the DSN notifier run here, beside the main thread's SMTP/POP3 servers, intake
 * and control socket, so delivery and intake use both cores (like Postfix's qmgr/smtp/local
 * beside smtpd/cleanup). The worker has its own backends: directory connection, resolver,
 * intake (for bounces and list copies) and an FsQueueStore on the same spool, opened without
 * the lock and without recovery (the main thread's store owns the spool and recovered it).
 *
 * Messages (see delivery-protocol.ts): the main thread posts newly committed envelopes,
 * control requests and "stop"; this thread posts "ready", batches of diagnostics_channel events
 * (re-published on the main thread, where the mail log subscribes), control replies, and
 * "stopped" after the runner's graceful stop.
 * Standards: none.
 * Security: the worker shares the process's privileges; nothing crosses the port but plain data.
 * Limitations: the worker's events reach the mail log a moment later than they happen.
 */
import diagnostics from 'node:diagnostics_channel';
import { parentPort, workerData } from 'node:worker_threads';
import { channels } from '../core/index.js';
import type { Config } from '../config/index.js';
import { openBackends } from './backends.js';
import { buildDeliveryServices, handleControl } from './delivery-services.js';
import { cloneable, type FromWorker, type ToWorker, type WorkerData } from './delivery-protocol.js';

async function main(port: NonNullable<typeof parentPort>, config: Config): Promise<void> {
  const post = (m: FromWorker): void => port.postMessage(m);

  // every event published in this thread goes to the main thread in batches
  let batch: { channel: string; message: unknown }[] = [];
  let flushQueued = false;
  const flush = (): void => {
    flushQueued = false;
    if (batch.length === 0) return;
    const events = batch;
    batch = [];
    try {
      post({ t: 'events', events });
    } catch {
      // something in an event cannot be cloned: send plain copies instead
      post({ t: 'events', events: events.map((e) => ({ channel: e.channel, message: cloneable(e.message) })) });
    }
  };
  const unsubs: (() => void)[] = [];
  for (const name of Object.values(channels)) {
    const handler = (message: unknown): void => {
      batch.push({ channel: name, message });
      if (!flushQueued) {
        flushQueued = true;
        setImmediate(flush);
      }
    };
    diagnostics.subscribe(name, handler);
    unsubs.push(() => diagnostics.unsubscribe(name, handler));
  }

  const backends = await openBackends(config, {
    watchAliases: true,
    spool: { lock: false, recover: 'never', cache: true },
  });
  const delivery = buildDeliveryServices(config, backends);
  const { runner } = delivery;
  // bounces and list copies committed by this thread's intake
  backends.setOnQueued((envs) => runner.enqueue(envs));

  let stopping: Promise<void> | undefined;
  port.on('message', (m: ToWorker) => {
    switch (m.t) {
      case 'enqueue':
        runner.enqueue(m.envelopes);
        return;
      case 'rpc':
        handleControl(runner, m.req, delivery.reloadKeys).then(
          (res) => post({ t: 'rpc', id: m.id, res }),
          (err: unknown) => post({ t: 'rpc', id: m.id, res: { ok: false, error: err instanceof Error ? err.message : String(err) } }),
        );
        return;
      case 'stop':
        stopping ??= (async () => {
          try {
            await delivery.stop();
            await backends.close();
          } catch (err) {
            post({ t: 'log', level: 'error', obj: { err: cloneable(err) }, msg: 'delivery worker stop' });
          }
          flush();
          for (const u of unsubs) u();
          post({ t: 'stopped' });
        })();
        return;
    }
  });

  await runner.start();
  post({ t: 'ready' });
}

const data = workerData as WorkerData | undefined;
if (parentPort && data?.kind === 'correio-delivery') {
  const port = parentPort;
  main(port, data.config).catch((err: unknown) => {
    // the main thread logs this and decides (restart, or fail the start)
    port.postMessage({ t: 'fatal', error: cloneable(err) } satisfies FromWorker);
  });
}
