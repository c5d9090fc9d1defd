import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { parseEmail } from '../jmap/email-parse.js';
import { frameCss, frameStyleSource, messageFrame, textToHtml } from './message-frame.js';

const png = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');

const related = (html: string, imageType = 'image/png'): Buffer =>
  Buffer.from(
    [
      'Subject: x',
      'MIME-Version: 1.0',
      'Content-Type: multipart/related; boundary="b"',
      '',
      '--b',
      'Content-Type: text/html; charset=utf-8',
      '',
      html,
      '--b',
      `Content-Type: ${imageType}`,
      'Content-ID: <img1@x>',
      'Content-Transfer-Encoding: base64',
      '',
      png.toString('base64'),
      '--b--',
      '',
    ].join('\r\n'),
  );

void test('message-frame: a cid: image becomes a data: URL, a remote one is held back until asked', () => {
  const parsed = parseEmail(related('<p>hi</p><img src="cid:img1@x" alt="a"><img src="https://tracker.example/p.gif" alt="b">'), 'bX');
  const held = messageFrame(parsed, false);
  assert.ok(held.html.includes(`<img alt="a" src="data:image/png;base64,${png.toString('base64')}" />`), held.html);
  assert.equal(held.blockedImages, 1);
  assert.doesNotMatch(held.html, /\ssrc="https:\/\/tracker/);
  assert.match(held.html, /content="default-src 'none'; img-src data:; /);
  const shown = messageFrame(parsed, true);
  assert.equal(shown.blockedImages, 0);
  assert.match(shown.html, /<img alt="b" src="https:\/\/tracker\.example\/p\.gif" \/>/);
  assert.match(shown.html, /img-src data: https: http:/);
});

void test('message-frame: an SVG part is not embedded (raster types only); a forged placeholder stays inert', () => {
  const parsed = parseEmail(related('<img src="cid:img1@x" alt="svg"><img src="inline-0000-0" alt="forged">', 'image/svg+xml'), 'bX');
  const f = messageFrame(parsed, false);
  const body = f.html.slice(f.html.indexOf('<body>'));
  assert.equal(body, '<body><img alt="svg" /><img alt="forged" /></body></html>');
});

void test('message-frame: hostile markup is removed; the frame style is the constant whose hash the CSP names', () => {
  const parsed = parseEmail(Buffer.from('Content-Type: text/html\r\n\r\n<script>alert(1)</script><img src=x onerror=alert(1)><a href="javascript:alert(1)">j</a><base href="https://evil/"><p style="x">t</p>\r\n'), 'bX');
  const f = messageFrame(parsed, false);
  const body = f.html.slice(f.html.indexOf('<body>'));
  assert.doesNotMatch(body, /script|onerror|javascript:|<base|style=/i);
  assert.match(body, /<a target="_blank" rel="noopener noreferrer">j<\/a>/);
  assert.equal(frameStyleSource, `'sha256-${createHash('sha256').update(frameCss).digest('base64')}'`);
  assert.ok(f.html.includes(`<style>${frameCss}</style>`));
});

void test('message-frame: plain text is escaped, its web addresses made links', () => {
  assert.equal(textToHtml('a <b> & https://example.org/x?y=1&z=2.'), '<pre>a &lt;b&gt; &amp; <a href="https://example.org/x?y=1&amp;z=2">https://example.org/x?y=1&amp;z=2</a>.</pre>');
  const parsed = parseEmail(Buffer.from('Subject: t\r\n\r\nhello <world>\r\n'), 'bX');
  assert.match(messageFrame(parsed, false).html, /<pre>hello &lt;world&gt;\r?\n?<\/pre>/);
});
