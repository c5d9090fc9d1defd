/**
 * @module login
 * The login page: the account's full address and its password (the ones IMAP takes), checked
 * by opening the JMAP session; a refusal shows the server's sentence (wrong password, too many
 * failed logins, credentials refused on a connection without TLS).
 * Standards: RFC 8620 §2. Security: the password goes to this origin only, in a header.
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
    const client = new JmapClient(value('address').trim(), value('password'));
    setBusy(true);
    setNote('');
    try {
      await client.open();
      onLogin(client);
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
