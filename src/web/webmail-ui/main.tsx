/**
 * @module webmail-main
 * The webmail's entry point (bundled by Vite into dist/webmail): the login page, then the mail
 * app for the account that logged in.
 * Standards: WHATWG HTML. Security: see jmap-client (credentials) and message-view (frames).
 * Limitations: a reload logs out (the password is kept in memory only).
 */
import { render } from 'preact';
import { useState } from 'preact/hooks';
import './styles.css';
import type { JmapClient } from './jmap-client.js';
import { Login } from './login.js';
import { MailApp } from './mail-app.js';

function Webmail() {
  const [client, setClient] = useState<JmapClient | undefined>(undefined);
  if (!client) return <Login onLogin={setClient} />;
  return <MailApp client={client} onLogout={() => setClient(undefined)} />;
}

render(<Webmail />, document.getElementById('app')!);
