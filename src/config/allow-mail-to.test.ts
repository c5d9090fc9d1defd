import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, defaultConfig, parseConfig } from './index.js';

// issue 12 item 4: where file and pipe targets may come from (Postfix's allow_mail_to_files/commands)
void test('delivery.allow_mail_to_files / allow_mail_to_commands: defaults, lists, strings, bad values', () => {
  assert.deepEqual(defaultConfig().delivery.allowMailToFiles, ['alias', 'include']);
  assert.deepEqual(defaultConfig().delivery.allowMailToCommands, ['alias', 'include']);
  const c = parseConfig('[delivery]\nallow_mail_to_files = []\nallow_mail_to_commands = "alias, alias"\n', { file: 'correio.toml' });
  assert.deepEqual(c.delivery.allowMailToFiles, []);
  assert.deepEqual(c.delivery.allowMailToCommands, ['alias']);
  assert.throws(
    () => parseConfig('[delivery]\nallow_mail_to_commands = ["alias", "forward"]\n', { file: 'correio.toml' }),
    (err: unknown) => err instanceof ConfigError && /correio\.toml:2: delivery\.allow_mail_to_commands: expected a list of "alias" and "include"/.test(err.message),
  );
});
