/**
 * Runs every test/dialogs/smtp-*.txt transcript against a fresh SmtpServer (hostname
 * dc.uece.br) over a real socket, then checks what the intake received for figure 5.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SmtpServer } from '../../src/server/smtp/index.js';
import { RecordingIntake } from '../helpers/recording-intake.js';
import { runDialogFile } from '../helpers/dialog.js';
import { projectRoot } from '../helpers/paths.js';

const dir = join(projectRoot, 'test', 'dialogs');

async function withServer(f: (port: number, intake: RecordingIntake) => Promise<void>): Promise<void> {
  const intake = await RecordingIntake.create();
  const server = new SmtpServer({ intake, hostname: 'dc.uece.br', trustedNetworks: [], isLocalDomain: intake.isLocalDomain });
  await server.listen([{ host: '127.0.0.1', port: 0, mode: 'mx' }]);
  try {
    await f(server.addresses()[0].port, intake);
  } finally {
    await server.close();
    await intake.cleanup();
  }
}

for (const name of readdirSync(dir).filter((n) => /^smtp-.*\.txt$/.test(n)).sort()) {
  void test(`dialog ${name}`, async () => {
    await withServer(async (port, intake) => {
      await runDialogFile(port, join(dir, name));
      if (name.startsWith('smtp-figure5')) {
        assert.equal(intake.messages.length, 1);
        const m = intake.messages[0];
        assert.deepEqual(m.tx.sender, { local: 'helvecio', domain: 'dsc.ufpb.br' });
        const rcpts = m.tx.recipients.map((r) => `${r.address.local}@${r.address.domain}`);
        assert.ok(rcpts.includes('suzana@dc.uece.br') && !rcpts.some((r) => r.startsWith('jacques')));
      }
      if (name === 'smtp-figure5-helo.txt') {
        const m = intake.messages[0];
        assert.equal(m.tx.session.protocol, 'SMTP');
        assert.equal(m.tx.session.heloName, 'dsc.ufpb.br');
        // RFC 5321 §4.5.2: the leading period of each line is removed
        assert.equal(
          readFileSync(m.file, 'latin1'),
          '....corpo da mensagem a ser enviada ......\r\n..continua com quantas linhas existirem na\r\nmensagem\r\n',
        );
        assert.deepEqual(m.tx.recipients.map((r) => r.address.local), ['suzana', 'pascal']);
      }
    });
  });
}
