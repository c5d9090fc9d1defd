import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { webmailAssetsApp, webmailCsp, webmailPageApp } from './webmail-app.js';
import { frameStyleSource } from './message-frame.js';

async function withBuild(fn: (root: string) => Promise<void>): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'correio-webmail-'));
  try {
    await mkdir(join(root, 'assets'));
    await writeFile(join(root, 'index.html'), '<!doctype html><script type="module" src="/webmail/assets/index-abc.js"></script>');
    await writeFile(join(root, 'assets', 'index-abc.js'), 'console.log(1)');
    await writeFile(join(root, 'secret.txt'), 'not an asset');
    await fn(root);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

void test('webmail-app: the page carries the strict CSP (no inline script, the frame style by hash, reports)', () =>
  withBuild(async (root) => {
    const res = await webmailPageApp(root).request('/');
    assert.equal(res.status, 200);
    const csp = res.headers.get('Content-Security-Policy') ?? '';
    assert.equal(csp, webmailCsp);
    assert.match(csp, /script-src 'self';/);
    assert.ok(csp.includes(`style-src 'self' ${frameStyleSource};`));
    assert.match(csp, /frame-ancestors 'none'/);
    assert.doesNotMatch(csp, /frame-src|child-src/); // default-src 'none': no framed URL, only the srcdoc frame
    assert.match(csp, /report-uri \/api\/csp-report/);
    assert.doesNotMatch(csp, /unsafe/);
    assert.match(await res.text(), /index-abc\.js/);
  }));

void test('webmail-app: assets by strict name only; nothing outside assets/ is served', () =>
  withBuild(async (root) => {
    const app = webmailAssetsApp(root);
    const ok = await app.request('/assets/index-abc.js');
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get('Content-Type'), 'text/javascript; charset=utf-8');
    assert.match(ok.headers.get('Cache-Control') ?? '', /immutable/);
    for (const path of ['/assets/..%2fsecret.txt', '/assets/..%2F..%2Fetc%2Fpasswd', '/assets/secret.txt', '/assets/.hidden.js', '/assets/index-abc.exe', '/secret.txt']) {
      const res = await app.request(path);
      assert.equal(res.status, 404, path);
      assert.doesNotMatch(await res.text(), /not an asset/, path);
    }
  }));

void test('webmail-app: a missing build is a 404 that says how to build it', async () => {
  const res = await webmailPageApp(join(tmpdir(), 'correio-no-such-build')).request('/');
  assert.equal(res.status, 404);
  assert.match(((await res.json()) as { detail: string }).detail, /not built: run npm run build/);
});
