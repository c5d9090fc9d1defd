/**
 * @module compose
 * Writing a message: To, Cc, Subject, the text (plain, or simple rich text: bold, italic,
 * lists, links — sent as text/html beside its plain text), attachments uploaded as JMAP blobs;
 * the draft is saved to Drafts a moment after each change (Email/set, the previous save
 * replaced), and Send submits it (mail-api send: EmailSubmission/set, then moved to Sent).
 * Standards: RFC 8620 §6.1 (upload), RFC 8621 §4.6 (Email/set create), §7 (EmailSubmission).
 * Security: the rich text is the user's own; the receiving side sanitises it like any mail.
 * Limitations: no inline images in rich text; no signature; a draft reopened from Drafts is
 *   plain text again.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import type { Draft, MailApi, Mailbox } from './mail-api.js';
import type { Status } from './mail-app.js';

const saveDelayMs = 1500;

export function Compose({ api, initial, draftId, drafts, sent, onStatus, onClose }: { api: MailApi; initial: Draft; draftId?: string; drafts: Mailbox | undefined; sent: Mailbox | undefined; onStatus: (s: Status) => void; onClose: () => void }) {
  const [draft, setDraft] = useState<Draft>(initial);
  const [rich, setRich] = useState(initial.html !== undefined);
  const [busy, setBusy] = useState(false);
  const [saved, setSaved] = useState('');
  const editor = useRef<HTMLDivElement>(null);
  /** the last saved draft's id, and the save in progress (saves run one at a time) */
  const savedId = useRef<string | undefined>(draftId);
  const saving = useRef<Promise<void>>(Promise.resolve());
  const changed = useRef(false);
  const update = (patch: Partial<Draft>): void => {
    changed.current = true;
    setDraft((d) => ({ ...d, ...patch }));
  };

  const save = (d: Draft): Promise<void> => {
    if (!drafts) return Promise.resolve();
    saving.current = saving.current.then(async () => {
      try {
        savedId.current = await api.saveDraft(d, drafts, savedId.current);
        setSaved(`draft saved ${new Date().toLocaleTimeString()}`);
      } catch (err) {
        setSaved(`draft not saved: ${(err as Error).message}`);
      }
    });
    return saving.current;
  };
  // drafts are saved as you type: a moment after the last change
  useEffect(() => {
    if (!changed.current) return;
    const timer = setTimeout(() => void save(draft), saveDelayMs);
    return () => clearTimeout(timer);
  }, [draft]);

  // the rich editor starts from the text so far; leaving it keeps the text, drops the markup
  useEffect(() => {
    if (rich && editor.current && !(draftId && initial.html !== undefined && draft.html === '')) editor.current.innerText = draft.text;
    if (!rich && draft.html !== undefined) update({ html: undefined });
  }, [rich]);
  // a rich draft taken up again: its HTML as the server sanitised it for reading (never the stored markup as is)
  useEffect(() => {
    if (!draftId || initial.html === undefined) return;
    api.jmap.frame(draftId, false).then((f) => {
      const body = new DOMParser().parseFromString(f.html, 'text/html').body.innerHTML;
      if (editor.current) editor.current.innerHTML = body;
      setDraft((d) => ({ ...d, html: body }));
    }, (err: unknown) => onStatus({ text: `draft not loaded: ${(err as Error).message}`, error: true }));
  }, []);
  const send = async (ev: Event): Promise<void> => {
    ev.preventDefault();
    if (!drafts || !sent) return onStatus({ text: 'no Drafts or Sent folder', error: true });
    setBusy(true);
    changed.current = false;
    try {
      await saving.current;
      await api.send(draft, drafts, sent, savedId.current);
      onStatus({ text: `sent to ${[draft.to, draft.cc].filter((s) => s.trim() !== '').join(', ')}` });
      onClose();
    } catch (err) {
      onStatus({ text: `not sent: ${(err as Error).message}`, error: true });
      setBusy(false);
    }
  };
  const attach = async (files: FileList | null): Promise<void> => {
    for (const f of Array.from(files ?? [])) {
      try {
        onStatus({ text: `uploading ${f.name}…` });
        const blob = await api.jmap.upload(f);
        const added = { blobId: blob.blobId, name: f.name, type: blob.type || f.type || 'application/octet-stream', size: blob.size };
        changed.current = true;
        setDraft((d) => ({ ...d, attachments: [...d.attachments, added] }));
        onStatus({ text: `attached ${f.name}` });
      } catch (err) {
        onStatus({ text: `${f.name} not attached: ${(err as Error).message}`, error: true });
      }
    }
  };
  const format = (command: string, value?: string): void => {
    editor.current?.focus();
    document.execCommand(command, false, value);
  };
  const field = (name: 'to' | 'cc' | 'subject') => ({
    name,
    value: draft[name],
    onInput: (ev: Event) => update({ [name]: (ev.currentTarget as HTMLInputElement).value }),
  });
  return (
    <form id="compose" class="compose" aria-label="New message" onSubmit={(ev) => void send(ev)}>
      <div class="compose-head">
        <h2>{draft.subject || 'New message'}</h2>
        <button type="button" class="close" aria-label="Close" onClick={() => void saving.current.then(onClose)}>×</button>
      </div>
      <label>To <input type="text" {...field('to')} required autofocus /></label>
      <label>Cc <input type="text" {...field('cc')} /></label>
      <label>Subject <input type="text" {...field('subject')} /></label>
      <label class="rich-toggle">
        <input type="checkbox" name="rich" checked={rich} onChange={(ev) => setRich((ev.currentTarget).checked)} /> Rich text
      </label>
      {rich ? (
        <>
          <div class="format">
            <button type="button" onClick={() => format('bold')}><b>B</b></button>
            <button type="button" onClick={() => format('italic')}><i>I</i></button>
            <button type="button" onClick={() => format('insertUnorderedList')}>• List</button>
            <button type="button" onClick={() => {
              const url = prompt('Link address (https://…)');
              if (url && /^(https?|mailto):/i.test(url)) format('createLink', url);
            }}>Link</button>
          </div>
          <div ref={editor} class="editor" contentEditable aria-label="Message" role="textbox" aria-multiline="true" onInput={() => update({ text: editor.current?.innerText ?? '', html: editor.current?.innerHTML ?? '' })} />
        </>
      ) : (
        <textarea name="text" aria-label="Message" value={draft.text} onInput={(ev) => update({ text: (ev.currentTarget).value })} />
      )}
      {draft.attachments.length > 0 && (
        <ul class="attachments">
          {draft.attachments.map((a) => (
            <li key={a.blobId}>
              {a.name}{' '}
              <button type="button" aria-label={`Remove ${a.name}`} onClick={() => update({ attachments: draft.attachments.filter((x) => x !== a) })}>×</button>
            </li>
          ))}
        </ul>
      )}
      <div class="compose-actions">
        <button type="submit" class="primary" disabled={busy}>Send</button>
        <label class="attach">
          Attach <input type="file" name="attachment" multiple onChange={(ev) => void attach((ev.currentTarget).files)} />
        </label>
        <span class="saved">{saved}</span>
      </div>
    </form>
  );
}
