// The OpenID Connect provider's refusals (issue 11): the authorization
// request's checks in the order the specs give them. A client or redirect
// URI that cannot be trusted gets an error page and never a redirect (no
// open redirect, RFC 6749 §4.1.2.1); every other error goes back to the
// registered redirect URI with error, state unchanged and iss (RFC 9207).
// PKCE is S256 only and required for public clients; prompt=none without
// a session is login_required; a code past its lifetime (--oidc-code-ttl)
// is invalid_grant. Answers validated against
// docs/openapi/oidc.json. (The sign-in itself, codes and their reuse are
// the next step: docs/OIDC.md.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { newDb, mkTenant, mkUser, http, noteSecret } from '../lib/server.js';
import { oidcHttp, startOidcServer, mkClient } from '../lib/oidc-helpers.js';

const sfx = crypto.randomBytes(3).toString('hex');
const TA = `na-${sfx}`;
const TB = `nb-${sfx}`;
const CB = 'https://app.example/cb';
const challenge = crypto.createHash('sha256').update(crypto.randomBytes(32).toString('base64url')).digest('base64url');

let db;
let srv;
let pub;       // a public client of A
let conf;      // a confidential client of A
let other;     // a client of B with the same redirect URI
let svc;       // a confidential client of A with only client_credentials
let svcCb;     // the same with a redirect URI

const authorize = (t, params, opts = {}) => {
  const qs = new URLSearchParams(params).toString();
  return opts.post
    ? oidcHttp(srv, 'POST', `/t/${t}/authorize`, { headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: opts.raw ?? qs })
    : oidcHttp(srv, 'GET', `/t/${t}/authorize?${opts.raw ?? qs}`);
};
const good = (c, extra = {}) => ({
  client_id: c.id, redirect_uri: CB, response_type: 'code', scope: 'openid email', state: 's-1',
  code_challenge: challenge, code_challenge_method: 'S256', ...extra,
});

// A redirect with an error: the query of Location, with its base checked.
function redirected(r, base = CB) {
  assert.equal(r.status, 303, r.text);
  const u = new URL(r.headers.location);
  assert.equal(`${u.origin}${u.pathname}`, base);
  return Object.fromEntries(u.searchParams);
}

function page(r) {
  assert.equal(r.status, 400, r.text);
  assert.equal(r.headers.location, undefined, 'never a redirect');
  assert.match(r.headers['content-type'], /^text\/html/);
  return r.text;
}

before(async () => {
  db = newDb();
  await mkTenant(db, TA);
  await mkTenant(db, TB);
  pub = await mkClient(db, TA, { name: 'spa', pub: true, redirects: [CB, 'http://127.0.0.1:9/cb'] });
  conf = await mkClient(db, TA, { name: 'web', redirects: [CB], scopes: ['openid', 'email', 'offline_access'] });
  other = await mkClient(db, TB, { name: 'b', redirects: [CB] });
  svc = await mkClient(db, TA, { name: 'svc', grants: ['client_credentials'] });
  svcCb = await mkClient(db, TA, { name: 'svc-cb', grants: ['client_credentials'], redirects: [CB] });
  srv = await startOidcServer(db);
});

after(async () => {
  if (srv) await srv.stop();
});

test('an unregistered or altered redirect URI gets an error page, never a redirect', async () => {
  for (const uri of ['https://evil.example/cb', `${CB}/`, `${CB}?x=1`, 'https://APP.example/cb', `${CB}#f`,
    'https://app.example/cb2', 'https://app.example', `${CB} https://evil.example/cb`]) {
    page(await authorize(TA, good(pub, { redirect_uri: uri })));
  }
  const r = await authorize(TA, good(pub, { redirect_uri: undefined }));
  page(r);
  // and the page echoes nothing of the request
  const x = await authorize(TA, good(pub, { redirect_uri: 'https://evil.example/<script>' }));
  assert.doesNotMatch(page(x), /evil|script/);
});

test('an unknown client, another tenant\'s client or a missing client_id gets an error page', async () => {
  page(await authorize(TA, good({ id: crypto.randomUUID() })));
  page(await authorize(TA, good(other)));            // registered at B, not at A
  const { client_id: _drop, ...noId } = good(pub);
  page(await authorize(TA, noId));
  // at B the same client is fine as far as the redirect goes
  const q = redirected(await authorize(TB, good(other, { response_type: 'token' })));
  assert.equal(q.iss, `${srv.publicUrl}/t/${TB}`);
});

test('errors go back to the registered redirect URI with state unchanged and iss', async () => {
  const state = 'a b&c=d/é?' + crypto.randomBytes(4).toString('hex');
  const cases = [
    [{ response_type: 'token' }, 'unsupported_response_type'],
    [{ response_type: 'code id_token' }, 'unsupported_response_type'],
    [{ response_type: undefined }, 'invalid_request'],
    [{ scope: 'email' }, 'invalid_scope'],                 // no openid
    [{ scope: 'openid offline_access' }, 'invalid_scope'], // not the client's
    [{ scope: 'openid admin' }, 'invalid_scope'],
    [{ response_mode: 'fragment' }, 'invalid_request'],
    [{ prompt: 'none login' }, 'invalid_request'],
    [{ prompt: 'select_account' }, 'invalid_request'],
    [{ max_age: '-1' }, 'invalid_request'],
    [{ max_age: 'soon' }, 'invalid_request'],
    [{ nonce: 'n'.repeat(129) }, 'invalid_request'],
  ];
  for (const [extra, error] of cases) {
    const params = Object.fromEntries(Object.entries(good(pub, { state, ...extra })).filter(([, v]) => v !== undefined));
    const q = redirected(await authorize(TA, params));
    assert.equal(q.error, error, JSON.stringify(extra));
    assert.equal(q.state, state, 'state unchanged');
    assert.equal(q.iss, `${srv.publicUrl}/t/${TA}`, 'RFC 9207 iss');
    assert.ok(q.error_description);
    assert.equal(q.code, undefined);
  }
  // without state, none is sent
  const { state: _s, ...noState } = good(pub, { response_type: 'token' });
  assert.equal(redirected(await authorize(TA, noState)).state, undefined);
  // a client without the code grant: unauthorized_client (with a
  // registered redirect URI), else the page
  const q = redirected(await authorize(TA, good(svcCb)));
  assert.equal(q.error, 'unauthorized_client');
  assert.equal(q.state, 's-1');
  page(await authorize(TA, good(svc)));
});

test('PKCE: S256 only, required for a public client; plain, a missing method or a bad challenge refused', async () => {
  const bad = [
    { code_challenge: undefined, code_challenge_method: undefined },   // public client without PKCE
    { code_challenge_method: 'plain' },
    { code_challenge_method: undefined },                              // defaults to plain (RFC 7636 §4.3)
    { code_challenge: undefined },
    { code_challenge: 'short' },
    { code_challenge: challenge.slice(0, -1) + '=' },
    { code_challenge_method: 's256' },
  ];
  for (const extra of bad) {
    const params = Object.fromEntries(Object.entries(good(pub, extra)).filter(([, v]) => v !== undefined));
    const q = redirected(await authorize(TA, params));
    assert.equal(q.error, 'invalid_request', JSON.stringify(extra));
    assert.match(q.error_description, /PKCE|code_challenge/);
  }
  // a confidential client may go without PKCE, but plain is refused for it too
  const { code_challenge: _c, code_challenge_method: _m, ...noPkce } = good(conf);
  assert.match((await authorize(TA, noPkce)).headers.location, /^\/ui\/login\?/);
  assert.equal(redirected(await authorize(TA, good(conf, { code_challenge_method: 'plain' }))).error, 'invalid_request');
});

test('prompt=none without a browser session is login_required, state and iss echoed', async () => {
  const q = redirected(await authorize(TA, good(pub, { prompt: 'none', state: 'keep me' })));
  assert.equal(q.error, 'login_required');
  assert.equal(q.state, 'keep me');
  assert.equal(q.iss, `${srv.publicUrl}/t/${TA}`);
});

test('a parameter given twice in the query is an error page (RFC 6749 §3.1)', async () => {
  const base = new URLSearchParams(good(pub, { prompt: 'none' })).toString();
  for (const extra of [`&redirect_uri=${encodeURIComponent('https://evil.example/cb')}`, '&state=other', `&client_id=${pub.id}`]) {
    page(await authorize(TA, null, { raw: base + extra }));
  }
  // once each is fine
  assert.equal(redirected(await authorize(TA, null, { raw: base })).error, 'login_required');
});

test('the form (POST) takes the same parameters; a repeated one is an error page', async () => {
  const q = redirected(await authorize(TA, good(pub, { prompt: 'none' }), { post: true }));
  assert.equal(q.error, 'login_required');
  const raw = new URLSearchParams(good(pub)).toString() + `&redirect_uri=${encodeURIComponent('https://evil.example/cb')}`;
  page(await authorize(TA, null, { post: true, raw }));
});

test('a valid request without a browser session goes to the hosted sign-in page, which comes back to it', async () => {
  for (const c of [pub, conf]) {
    const r = await authorize(TA, good(c, { nonce: 'n-1', login_hint: 'a@b.example' }));
    assert.equal(r.status, 303, r.text);
    const u = new URL(r.headers.location, srv.url);
    assert.equal(u.pathname, '/ui/login');
    assert.equal(u.searchParams.get('tenant'), TA);
    assert.equal(u.searchParams.get('login_hint'), 'a@b.example');
    const back = new URL(u.searchParams.get('return_to'), srv.url);
    assert.equal(back.origin, srv.url, 'a path of this origin');
    assert.equal(back.pathname, `/t/${TA}/authorize`);
    const want = good(c, { nonce: 'n-1', login_hint: 'a@b.example' });
    for (const [k, v] of Object.entries(want)) assert.equal(back.searchParams.get(k), v, k);
    assert.equal(back.searchParams.get('login_after'), null);
  }
  // prompt=login: the way back drops prompt and says which sign-in counts
  const r = await authorize(TA, good(pub, { prompt: 'login' }));
  const back = new URL(new URL(r.headers.location, srv.url).searchParams.get('return_to'), srv.url);
  assert.equal(back.searchParams.get('prompt'), null);
  assert.match(back.searchParams.get('login_after'), /^[0-9]+$/);
  // the loopback redirect URI registered for the SPA is taken as well
  assert.equal((await authorize(TA, good(pub, { redirect_uri: 'http://127.0.0.1:9/cb' }))).status, 303);
});

test('the token endpoint\'s code and refresh grants: unknown codes and tokens are invalid_grant, for public and confidential clients', async () => {
  const tok = `/t/${TA}/token`;
  const code = crypto.randomBytes(32).toString('base64url');
  const verifier = crypto.randomBytes(32).toString('base64url');
  // a public client authenticates with its client_id alone (none)
  let r = await oidcHttp(srv, 'POST', tok, { form: { grant_type: 'authorization_code', client_id: pub.id, code, redirect_uri: CB, code_verifier: verifier } });
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json.error, 'invalid_grant');
  r = await oidcHttp(srv, 'POST', tok, { basic: [conf.id, conf.secret], form: { grant_type: 'authorization_code', code, redirect_uri: CB } });
  assert.equal(r.json.error, 'invalid_grant');
  r = await oidcHttp(srv, 'POST', tok, { basic: [conf.id, conf.secret], form: { grant_type: 'authorization_code', redirect_uri: CB } });
  assert.equal(r.json.error, 'invalid_request');
  r = await oidcHttp(srv, 'POST', tok, { basic: [conf.id, conf.secret], form: { grant_type: 'authorization_code', code } });
  assert.equal(r.json.error, 'invalid_request', 'redirect_uri is required');
  r = await oidcHttp(srv, 'POST', tok, { basic: [svc.id, svc.secret], form: { grant_type: 'authorization_code', code, redirect_uri: CB } });
  assert.equal(r.json.error, 'unauthorized_client');
  r = await oidcHttp(srv, 'POST', tok, { form: { grant_type: 'refresh_token', client_id: pub.id, refresh_token: crypto.randomBytes(32).toString('base64url') } });
  assert.equal(r.json.error, 'invalid_grant');
  r = await oidcHttp(srv, 'POST', tok, { form: { grant_type: 'refresh_token', client_id: pub.id } });
  assert.equal(r.json.error, 'invalid_request');
  // a public client may not use client_credentials, nor pretend to have a secret
  r = await oidcHttp(srv, 'POST', tok, { form: { grant_type: 'client_credentials', client_id: pub.id } });
  assert.equal(r.json.error, 'unauthorized_client');
  r = await oidcHttp(srv, 'POST', tok, { form: { grant_type: 'authorization_code', client_id: pub.id, client_secret: 'x', code, redirect_uri: CB } });
  assert.equal(r.status, 401);
  assert.equal(r.json.error, 'invalid_client');
});

test('an expired code is invalid_grant (--oidc-code-ttl 1, waited past)', async () => {
  const email = `exp-${sfx}@example.com`;
  const password = 'correct horse battery ' + crypto.randomBytes(6).toString('hex');
  await mkUser(db, TA, email, password);
  const fp = await mkClient(db, TA, { name: 'fp', firstParty: true, redirects: [CB] });
  const short = await startOidcServer(db, ['--oidc-code-ttl', '1']);
  try {
    const r0 = await http('POST', `${short.url}/ui/session-password?tenant=${TA}`, {
      json: { email, password }, headers: { Origin: short.url, 'Sec-Fetch-Site': 'same-origin' },
    });
    assert.equal(r0.status, 200, r0.text);
    const cookie = /tessera=([A-Za-z0-9_-]{43});/.exec(r0.headers['set-cookie']?.[0] ?? '')[1];
    noteSecret(cookie);
    const verifier = crypto.randomBytes(32).toString('base64url');
    const qs = new URLSearchParams({ ...good(fp), code_challenge: crypto.createHash('sha256').update(verifier).digest('base64url') });
    const code = async (server) => {
      const r = await oidcHttp(server, 'GET', `/t/${TA}/authorize?${qs}`, { headers: { Cookie: `tessera=${cookie}` } });
      const c = redirected(r).code;
      assert.ok(c, r.headers.location);
      noteSecret(c);
      return c;
    };
    const exchange = (server, c) => oidcHttp(server, 'POST', `/t/${TA}/token`, { basic: [fp.id, fp.secret],
      form: { grant_type: 'authorization_code', code: c, redirect_uri: CB, code_verifier: verifier } });
    // the same request is good with the default lifetime (the other
    // server, same store), so what fails it below is the wait
    let r = await exchange(srv, await code(srv));
    assert.equal(r.status, 200, r.text);
    const late = await code(short);
    await new Promise((res) => setTimeout(res, 2500));
    r = await exchange(short, late);
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json.error, 'invalid_grant');
  } finally {
    await short.stop();
  }
});
