// The hosted pages over plain HTTP (no browser): the Content-Security-Policy
// of every page, the browser-session cookie's attributes, the same-origin
// rule of every page POST, and that the cookie never authorises a JSON API
// call nor does the JSON API ever set one (docs/PAGES.md).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { startServer, newDb, mkTenant, mkUser, cliOk, http, noteSecret, tmpDir, loginOk } from '../lib/server.js';

const CSP = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
const password = () => 'correct horse battery ' + crypto.randomBytes(6).toString('hex');
const PAGES = ['/ui/', '/ui/login', '/ui/mfa', '/ui/signup', '/ui/forgot', '/ui/account', '/verify', '/reset'];
const COOKIE_RE = /^tessera=([A-Za-z0-9_-]{43}); Path=\/; Max-Age=(\d+); HttpOnly; SameSite=Lax$/;

describe('hosted pages over HTTP', () => {
  let srv, origin;
  const db = newDb();
  const users = { ann: password(), bob: password() };

  before(async () => {
    await mkTenant(db, 'acme');
    await mkTenant(db, 'other');
    await mkUser(db, 'acme', 'ann@example.com', users.ann);
    await mkUser(db, 'acme', 'bob@example.com', users.bob);
    srv = await startServer({ db, args: ['--default-tenant', 'acme'] });
    origin = srv.url;
  });
  after(async () => {
    await srv?.stop();
  });

  /** A page POST as a same-origin fetch would send it. */
  const pagePost = (p, json, headers = {}) => http('POST', srv.url + p, { json, headers: {
    Origin: origin, 'Sec-Fetch-Site': 'same-origin', ...headers } });
  async function signIn(email, pw) {
    const r = await pagePost('/ui/session-password', { email, password: pw });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { signed_in: true, enrollment_required: false, amr: 'pwd' });
    const m = COOKIE_RE.exec(r.headers['set-cookie']?.[0] ?? '');
    assert.ok(m, `Set-Cookie: ${r.headers['set-cookie']}`);
    noteSecret(m[1]);
    return m[1];
  }
  const withCookie = (c) => ({ Cookie: `tessera=${c}` });

  it('every page, script, style and error carries the CSP, is never framed, and has no inline script or style', async () => {
    for (const p of [...PAGES, '/ui/app.js', '/ui/app.css', '/ui/nope']) {
      const r = await http('GET', srv.url + p);
      assert.equal(r.headers['content-security-policy'], CSP, p);
      assert.equal(r.headers['x-frame-options'], 'DENY', p);
      assert.equal(r.headers['x-content-type-options'], 'nosniff', p);
      assert.equal(r.headers['access-control-allow-origin'], undefined, p);
      if (p === '/ui/nope') {
        assert.equal(r.status, 404);
        continue;
      }
      assert.equal(r.status, 200, p);
      if (PAGES.includes(p)) {
        assert.equal(r.headers['content-type'], 'text/html; charset=utf-8', p);
        assert.doesNotMatch(r.text, /<script(?![^>]*\bsrc=)/, `${p}: inline script`);
        assert.doesNotMatch(r.text, /<style|\sstyle=|\son[a-z]+=/i, `${p}: inline style or handler`);
        assert.doesNotMatch(r.text, /(src|href)="(https?:)?\/\//, `${p}: another origin`);
        // every input has a label, and what describes it exists
        for (const [, id] of r.text.matchAll(/<input id="([^"]+)"/g))
          assert.match(r.text, new RegExp(`<label for="${id}"`), `${p}: #${id} has no label`);
        for (const [, ids] of r.text.matchAll(/aria-describedby="([^"]+)"/g))
          for (const id of ids.split(' ')) assert.match(r.text, new RegExp(`id="${id}"`), `${p}: #${id}`);
        assert.match(r.text, /<meta name="viewport" content="width=device-width, initial-scale=1">/);
      }
    }
    // passkey autofill (conditional mediation) needs the webauthn token on the username field
    const login = await http('GET', srv.url + '/ui/login');
    assert.match(login.text, /<input id="email" name="email" type="email" autocomplete="username webauthn"/);
    const js = await http('GET', srv.url + '/ui/app.js');
    assert.match(js.text, /mediation/);
    assert.equal(js.headers['content-type'], 'text/javascript; charset=utf-8');
    const post = await http('POST', srv.url + '/ui/session-end', { json: {}, headers: { Origin: 'http://evil.test' } });
    assert.equal(post.headers['content-security-policy'], CSP);
  });

  it('a sign-in sets an HttpOnly SameSite=Lax cookie (no Secure over http) that buys a bearer for the pages only', async () => {
    const c = await signIn('ann@example.com', users.ann);
    const t = await pagePost('/ui/session-token', {}, withCookie(c));
    assert.equal(t.status, 200, t.text);
    assert.equal(t.json.email, 'ann@example.com');
    assert.equal(t.json.tenant_slug, 'acme');
    const me = await http('GET', srv.url + '/v1/auth/me', { token: t.json.token });
    assert.equal(me.status, 200, me.text);
    // the browser session is in the user's list of sessions, as the current one
    const s = await http('GET', srv.url + '/v1/auth/sessions', { token: t.json.token });
    assert.equal(s.json.items.filter((x) => x.current).length, 1);
    // no face takes the cookie as a credential
    for (const p of ['/v1/auth/me', '/v1/mfa/factors', '/v1/auth/sessions']) {
      const r = await http('GET', srv.url + p, { headers: withCookie(c) });
      assert.equal(r.status, 401, `${p} with only the cookie: ${r.status}`);
    }
    const ch = await http('POST', srv.url + '/v1/auth/password/change', { body: JSON.stringify({
      current_password: users.ann, password: password() }), headers: { ...withCookie(c), 'Content-Type': 'text/plain', Origin: 'http://evil.test' } });
    assert.equal(ch.status, 401, ch.text);
    // a tenant other than the cookie's
    const o = await pagePost('/ui/session-token?tenant=other', {}, withCookie(c));
    assert.equal(o.status, 401, o.text);
    // signing out ends the cookie and the bearer it bought
    const end = await pagePost('/ui/session-end', {}, withCookie(c));
    assert.equal(end.status, 200);
    assert.equal(end.headers['set-cookie'][0], 'tessera=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax');
    assert.equal((await pagePost('/ui/session-token', {}, withCookie(c))).status, 401);
    assert.equal((await http('GET', srv.url + '/v1/auth/me', { token: t.json.token })).status, 401);
  });

  it('page POSTs refuse other origins, other sites, missing Origin and non-JSON bodies; nothing is set', async () => {
    const body = { email: 'bob@example.com', password: users.bob };
    const cases = [
      [{ Origin: 'http://evil.test' }, 403, 'cross_site'],
      [{ Origin: 'http://evil.test', 'Sec-Fetch-Site': 'cross-site' }, 403, 'cross_site'],
      [{ Origin: origin, 'Sec-Fetch-Site': 'same-site' }, 403, 'cross_site'],
      [{ Origin: origin.replace('http:', 'https:') }, 403, 'cross_site'],
      [{ Origin: 'null' }, 403, 'cross_site'],
      [{}, 403, 'cross_site'],
    ];
    for (const [headers, status, code] of cases) {
      const r = await http('POST', srv.url + '/ui/session-password', { json: body, headers });
      assert.equal(r.status, status, JSON.stringify(headers));
      assert.equal(r.json.code, code);
      assert.equal(r.headers['set-cookie'], undefined);
    }
    // a same-origin text/plain or form body: 415, no cookie
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      const r = await http('POST', srv.url + '/ui/session-password', { body: JSON.stringify(body),
        headers: { 'Content-Type': type, Origin: origin } });
      assert.equal(r.status, 415, type);
      assert.equal(r.headers['set-cookie'], undefined);
    }
    // Origin alone (no Fetch Metadata) of this very origin is enough
    const ok = await http('POST', srv.url + '/ui/session-password', { json: body, headers: { Origin: origin } });
    assert.equal(ok.status, 200, ok.text);
    noteSecret(COOKIE_RE.exec(ok.headers['set-cookie'][0])[1]);
    // a cookie cannot be spent by another site either
    const c = await signIn('bob@example.com', users.bob);
    const t = await http('POST', srv.url + '/ui/session-token', { json: {}, headers: { ...withCookie(c), Origin: 'http://evil.test' } });
    assert.equal(t.status, 403);
    assert.equal(t.json.token, undefined);
    const e = await http('POST', srv.url + '/ui/session-end', { json: {}, headers: { ...withCookie(c), 'Sec-Fetch-Site': 'cross-site' } });
    assert.equal(e.status, 403);
    assert.equal((await pagePost('/ui/session-token', {}, withCookie(c))).status, 200, 'still signed in');
  });

  it('the JSON API never sets a cookie, also for a cross-site text/plain login or register', async () => {
    const r = await http('POST', srv.url + '/v1/auth/login', { body: JSON.stringify({ email: 'bob@example.com', password: users.bob }),
      headers: { 'Content-Type': 'text/plain', Origin: 'http://evil.test', 'Sec-Fetch-Site': 'cross-site' } });
    assert.equal(r.status, 200, r.text);
    noteSecret(r.json.token); noteSecret(r.json.refresh_token);
    assert.equal(r.headers['set-cookie'], undefined);
    assert.equal(r.headers['access-control-allow-origin'], undefined, 'and the other site cannot read it');
    const reg = await http('POST', srv.url + '/v1/auth/register', { body: JSON.stringify({ email: 'x@example.com', password: password() }),
      headers: { 'Content-Type': 'text/plain', Origin: 'http://evil.test' } });
    assert.equal(reg.headers['set-cookie'], undefined);
  });

  it('a wrong password, an unknown user and an MFA user: same refusal, or a challenge and no cookie', async () => {
    const a = await pagePost('/ui/session-password', { email: 'ann@example.com', password: 'wrong ' + password() });
    const b = await pagePost('/ui/session-password', { email: 'nobody@example.com', password: password() });
    assert.equal(a.status, 401);
    assert.deepEqual(a.json, b.json);
    assert.equal(a.headers['set-cookie'], undefined);
    assert.equal(b.headers['set-cookie'], undefined);
    const bad = await pagePost('/ui/session-mfa', { challenge_id: crypto.randomUUID(), method: 'totp', code: '123456' });
    assert.equal(bad.status, 401);
    assert.equal(bad.json.code, 'challenge_invalid');
    assert.equal(bad.headers['set-cookie'], undefined);
  });

  it('a new password ends every other browser session', async () => {
    const c1 = await signIn('ann@example.com', users.ann);
    const c2 = await signIn('ann@example.com', users.ann);
    const t = await pagePost('/ui/session-token', {}, withCookie(c1));
    const next = password();
    const ch = await http('POST', srv.url + '/v1/auth/password/change', { json: { current_password: users.ann, password: next }, token: t.json.token });
    assert.equal(ch.status, 204, ch.text);
    users.ann = next;
    noteSecret(next);
    assert.equal((await pagePost('/ui/session-token', {}, withCookie(c1))).status, 200);
    assert.equal((await pagePost('/ui/session-token', {}, withCookie(c2))).status, 401);
  });
});

describe('hosted pages over https', () => {
  it('the cookie is __Host-tessera with Secure, and the plain name is not accepted there', async () => {
    const dir = tmpDir();
    const cert = path.join(dir, 'c.crt'), key = path.join(dir, 'c.key');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key,
      '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    const db = newDb();
    const pw = password();
    await cliOk(['tenant', 'add', 'acme'], { db });
    await mkUser(db, 'acme', 'tls@example.com', pw);
    const srv = await startServer({ db, args: ['--tls-cert', cert, '--tls-key', key, '--default-tenant', 'acme'] });
    try {
      const base = `https://127.0.0.1:${srv.port}`;
      const curl = (p, extra) => execFileSync('curl', ['-sS', '-i', '--cacert', cert, '-X', 'POST', '-H', 'Content-Type: application/json',
        '-H', `Origin: ${base}`, ...extra, base + p], { encoding: 'utf8' });
      const out = curl('/ui/session-password', ['--data-binary', JSON.stringify({ email: 'tls@example.com', password: pw })]);
      const m = /^set-cookie: __Host-tessera=([A-Za-z0-9_-]{43}); Path=\/; Max-Age=\d+; HttpOnly; SameSite=Lax; Secure\r$/mi.exec(out);
      assert.ok(m, out);
      noteSecret(m[1]);
      assert.match(curl('/ui/session-token', ['-H', `Cookie: __Host-tessera=${m[1]}`, '--data-binary', '{}']), /^HTTP\/1\.1 200/);
      assert.match(curl('/ui/session-token', ['-H', `Cookie: tessera=${m[1]}`, '--data-binary', '{}']), /^HTTP\/1\.1 401/);
    } finally {
      await srv.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
