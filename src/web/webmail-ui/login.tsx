/**
 * @module login
 * The login page: the account's full address and its password (the ones IMAP takes), sent
 * once to POST /api/session (a browser session: docs/web.md); a refusal shows the server's
 * sentence (wrong password, too many failed logins, credentials refused without TLS).
 * Standards: RFC 8620 §2. Security: the password goes to this origin only, and is not kept.
 * Limitations: none known.
 */
import { useState } from 'preact/hooks';
import { JmapClient } from './jmap-client.js';

export function Login({ onLogin }: { onLogin: (client: JmapClient) => void }) {
  const [note, setNote] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (ev: Event): Promise<void> => {
    ev.preventDefault();
    const form = ev.currentTarget as HTMLFormElement;
    const value = (name: string): string => (form.elements.namedItem(name) as HTMLInputElement).value;
    setBusy(true);
    setNote('');
    try {
      onLogin(await JmapClient.login(value('address').trim(), value('password')));
    } catch (err) {
      setNote((err as Error).message);
      setBusy(false);
    }
  };
  return (
    <form id="login" onSubmit={(ev) => void submit(ev)}>
      <h1>correio mail</h1>
      <label>
        Address
        <input name="address" type="email" autocomplete="username" required autofocus />
      </label>
      <label>
        Password
        <input name="password" type="password" autocomplete="current-password" required />
      </label>
      <button type="submit" disabled={busy}>
        Log in
      </button>
      <p id="login-note" role="alert">
        {note}
      </p>
    </form>
  );
}
