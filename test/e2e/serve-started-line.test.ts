/**
 * The "correio started" line names every address serve listens on (docs/logging.md): SMTP,
 * IMAP, HTTP, and also POP3 and /metrics, which it left out until session 17 (an operator who
 * turned POP3 on saw no sign of it in the log). A real serve process, its real log.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { freePort } from '../helpers/net.js';
import { startSiteProcess, waitFor } from '../helpers/site.js';

test('"correio started" lists the POP3 and metrics addresses with the others', async () => {
  const site = await startSiteProcess({
    logLevel: 'info',
    tables: async () =>
      `[pop3]\nlisten = ["127.0.0.1:${await freePort()}"]\n[imap]\nlisten = ["127.0.0.1:${await freePort()}"]\n` +
      `[http]\nlisten = []\n[metrics]\nlisten = ["127.0.0.1:${await freePort()}"]\n`,
  });
  try {
    const startedLine = (): Record<string, unknown> | undefined =>
      site
        .stdout()
        .split('\n')
        .filter((l) => l.includes('"msg":"correio started"'))
        .map((l) => JSON.parse(l) as Record<string, unknown>)[0];
    await waitFor('"correio started" in the log', () => startedLine() !== undefined, 30_000);
    const line = startedLine() ?? {};
    const { config } = site;
    assert.deepEqual(line.pop3, config.pop3.listen.map((a) => `${a.host}:${a.port}`));
    assert.deepEqual(line.imap, config.imap.listen.map((a) => `${a.host}:${a.port}`));
    assert.deepEqual(line.metrics, config.metrics.listen.map((a) => `http://${a.host}:${a.port}/metrics`));
    assert.deepEqual(line.smtp, [`${site.host}:${site.port}/mx`]);
  } finally {
    await site.destroy();
  }
});
