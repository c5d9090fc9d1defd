/**
 * @module webmail-main
 * The webmail's entry point (bundled by Vite into dist/webmail): the login page, then the mail
 * app for the account that logged in.
 * Standards: WHATWG HTML. Security: see jmap-client (credentials) and message-view (frames).
 * Limitations: none known.
 */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import './styles.css';
import { JmapClient } from './jmap-client.js';
import { Login } from './login.js';
import { MailApp } from './mail-app.js';

function Webmail() {
  const [client, setClient] = useState<JmapClient | undefined>(undefined);
  const [resumed, setResumed] = useState(false);
  // a reloaded page keeps its browser session (the cookie): no password asked again
  useEffect(() => {
    JmapClient.resume().then(setClient, () => undefined).finally(() => setResumed(true));
  }, []);
  if (client) {
    client.onSessionEnded = () => setClient(undefined);
    return <MailApp client={client} onLogout={() => void client.logout().finally(() => setClient(undefined))} />;
  }
  return resumed ? <Login onLogin={setClient} /> : null;
}

render(<Webmail />, document.getElementById('app')!);
