// The authorization code flow with PKCE (issue 11, step 3), driven by
// openid-client (the relying party no one here wrote) with the sign-in
// done by a plain HTTP client on the hosted pages' own endpoints (the
// same requests their script sends): authorize sends the person to
// /ui/login, which comes back; the code is exchanged for an access token,
// an ID token that jose validates against the JWKS, and a refresh token;
// userinfo, refresh rotation, introspection. Then the negative cases the
// issue lists: a code reused (and what it issued revoked), a code of
// another client, a wrong or missing verifier, a refresh token of one
// client used by another, mixed-up issuers. Every answer is validated
// against docs/openapi/oidc.json.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import * as client from 'openid-client';
import * as jose from 'jose';
import { newDb, mkTenant, mkUser, http, noteSecret } from '../lib/server.js';
import { oidcHttp, validatingFetch, startOidcServer, mkClient } from '../lib/oidc-helpers.js';

const sfx = crypto.randomBytes(3).toString('hex');
const TA = `ca-${sfx}`;
const TB = `cb-${sfx}`;
const CB = 'https://app.example/cb';
const BYE = 'https://app.example/bye';
const EMAIL = `ann-${sfx}@example.com`;
const PASSWORD = 'correct horse battery ' + crypto.randomBytes(6).toString('hex');

let db;
let srv;
let spa;       // public, first-party, offline_access
let web;       // confidential, first-party
let judge;     // confidential, for introspection
let judgeB;    // the same at tenant B
let third;     // confidential, not first-party: asks for consent
let cookie;

const issuer = (t) => `${srv.publicUrl}/t/${t}`;

async function configOf(t, c) {
  const config = await client.discovery(new URL(issuer(t)), c.id, c.secret ?? undefined,
    c.secret ? client.ClientSecretBasic(c.secret) : client.None(),
    { execute: [client.allowInsecureRequests], [client.customFetch]: validatingFetch });
  config[client.customFetch] = validatingFetch;
  return config;
}

/** Signs ann in on the hosted pages of tenant t, as their script does; the cookie. */
async function signIn(t) {
  const r = await http('POST', `${srv.url}/ui/session-password?tenant=${t}`, {
    json: { email: EMAIL, password: PASSWORD },
    headers: { Origin: srv.url, 'Sec-Fetch-Site': 'same-origin' },
  });
  assert.equal(r.status, 200, r.text);
  const m = /^(?:__Host-)?tessera=([A-Za-z0-9_-]{43});/.exec(r.headers['set-cookie']?.[0] ?? '');
  assert.ok(m, `Set-Cookie: ${r.headers['set-cookie']}`);
  noteSecret(m[1]);
  return m[1];
}

/** Follows authorize (and the sign-in page's way back) to the redirect with the code. */
async function codeFor(t, c, params) {
  const config = await configOf(t, c);
  const url = client.buildAuthorizationUrl(config, { redirect_uri: CB, ...params });
  let r = await oidcHttp(srv, 'GET', url.pathname + url.search, { headers: cookie ? { Cookie: `tessera=${cookie}` } : {} });
  assert.equal(r.status, 303, r.text);
  let loc = new URL(r.headers.location, srv.url);
  if (loc.pathname === '/ui/login') {
    assert.equal(loc.searchParams.get('tenant'), t);
    cookie = await signIn(t);
    const back = loc.searchParams.get('return_to');
    assert.match(back, new RegExp(`^/t/${t}/authorize\\?`));
    r = await oidcHttp(srv, 'GET', back, { headers: { Cookie: `tessera=${cookie}` } });
    assert.equal(r.status, 303, r.text);
    loc = new URL(r.headers.location, srv.url);
  }
  return { config, loc };
}

before(async () => {
  db = newDb();
  await mkTenant(db, TA);
  await mkTenant(db, TB);
  await mkUser(db, TA, EMAIL, PASSWORD);
  await mkUser(db, TB, EMAIL, PASSWORD);
  spa = await mkClient(db, TA, { name: 'spa', pub: true, firstParty: true, redirects: [CB],
    grants: ['authorization_code', 'refresh_token'], scopes: ['openid', 'email', 'offline_access'] });
  web = await mkClient(db, TA, { name: 'web', firstParty: true, redirects: [CB], postLogout: [BYE] });
  judge = await mkClient(db, TA, { name: 'rs', grants: ['client_credentials'] });
  third = await mkClient(db, TA, { name: 'Third <App>', redirects: [CB], scopes: ['openid', 'email'] });
  judgeB = await mkClient(db, TB, { name: 'rs-b', grants: ['client_credentials'] });
  srv = await startOidcServer(db);
});

after(async () => {
  if (srv) await srv.stop();
});

test('authorization code + PKCE with openid-client: sign-in on the hosted pages, tokens, ID token (jose), userinfo, refresh, introspection', async () => {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const { config, loc } = await codeFor(TA, spa, {
    scope: 'openid email offline_access', code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256', state, nonce,
  });
  assert.equal(`${loc.origin}${loc.pathname}`, CB);
  assert.equal(loc.searchParams.get('state'), state, 'state unchanged');
  assert.equal(loc.searchParams.get('iss'), issuer(TA), 'RFC 9207');
  noteSecret(loc.searchParams.get('code'));
  const t = await client.authorizationCodeGrant(config, loc, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true });
  assert.equal(t.token_type.toLowerCase(), 'bearer');
  assert.ok(t.refresh_token, 'offline_access asked for and allowed');
  assert.equal(t.scope, 'openid email offline_access');

  const keys = jose.createRemoteJWKSet(new URL(`${issuer(TA)}/jwks`));
  const { payload: id, protectedHeader } = await jose.jwtVerify(t.id_token, keys, { issuer: issuer(TA), audience: spa.id });
  assert.equal(id.nonce, nonce);
  assert.equal(id.email, EMAIL);
  assert.equal(id.email_verified, true);
  assert.deepEqual(id.amr, ['pwd']);
  assert.equal(id.acr, '1', 'a password only');
  assert.ok(id.sid && id.auth_time <= id.iat && id.iat - id.auth_time < 60);
  const hash = crypto.createHash(protectedHeader.alg === 'EdDSA' ? 'sha512' : 'sha256').update(t.access_token).digest();
  assert.equal(id.at_hash, hash.subarray(0, hash.length / 2).toString('base64url'));
  const claims = t.claims();
  assert.equal(claims.sub, id.sub);

  const info = await client.fetchUserInfo(config, t.access_token, id.sub);
  assert.deepEqual(info, { sub: id.sub, email: EMAIL, email_verified: true });

  const rs = await configOf(TA, judge);
  const i = await client.tokenIntrospection(rs, t.access_token);
  assert.equal(i.active, true);
  assert.equal(i.client_id, spa.id);
  assert.equal(i.sub, id.sub);

  const t2 = await client.refreshTokenGrant(config, t.refresh_token);
  assert.notEqual(t2.refresh_token, t.refresh_token, 'rotated');
  assert.equal((await client.tokenIntrospection(rs, t2.access_token)).active, true);
  // the spent refresh token again: reuse ends the grant
  await assert.rejects(client.refreshTokenGrant(config, t.refresh_token), (e) => e.error === 'invalid_grant');
  assert.deepEqual(await client.tokenIntrospection(rs, t2.access_token), { active: false });
  assert.deepEqual(await client.tokenIntrospection(rs, t.access_token), { active: false });
  // a token of tenant A's issuer is not active at tenant B
  assert.deepEqual(await client.tokenIntrospection(await configOf(TB, judgeB), t.access_token), { active: false });
});

test('a signed-in browser gets a code at once; prompt=none works with a session; a confidential client without PKCE', async () => {
  assert.ok(cookie, 'signed in by the test before');
  const { config, loc } = await codeFor(TA, web, { scope: 'openid', prompt: 'none', state: 'x' });
  assert.ok(loc.searchParams.get('code'), loc.href);
  noteSecret(loc.searchParams.get('code'));
  const t = await client.authorizationCodeGrant(config, loc, { expectedState: 'x', idTokenExpected: true });
  assert.equal(t.refresh_token, undefined, 'no offline_access');
  assert.equal(t.claims().aud, web.id);
});

test('a code reused is refused and revokes what it issued; another client\'s code; a wrong or missing verifier', async () => {
  const tok = `/t/${TA}/token`;
  const verifier = client.randomPKCECodeVerifier();
  const challenge = await client.calculatePKCECodeChallenge(verifier);
  const get = async () => {
    const { loc } = await codeFor(TA, spa, { scope: 'openid', code_challenge: challenge, code_challenge_method: 'S256', state: 's' });
    const code = loc.searchParams.get('code');
    noteSecret(code);
    return code;
  };
  const exchange = (code, extra = {}, c = spa) => oidcHttp(srv, 'POST', tok, {
    ...(c.secret ? { basic: [c.id, c.secret] } : {}),
    form: { grant_type: 'authorization_code', code, redirect_uri: CB, code_verifier: verifier, ...(c.secret ? {} : { client_id: c.id }), ...extra },
  });
  const code = await get();
  const ok = await exchange(code);
  assert.equal(ok.status, 200, ok.text);
  const rs = await configOf(TA, judge);
  assert.equal((await client.tokenIntrospection(rs, ok.json.access_token)).active, true);
  const again = await exchange(code);
  assert.equal(again.status, 400);
  assert.equal(again.json.error, 'invalid_grant');
  assert.deepEqual(await client.tokenIntrospection(rs, ok.json.access_token), { active: false }, 'revoked by the reuse');

  let r = await exchange(await get(), {}, web);
  assert.equal(r.json.error, 'invalid_grant', 'another client\'s code');
  r = await exchange(await get(), { code_verifier: client.randomPKCECodeVerifier() });
  assert.equal(r.json.error, 'invalid_grant', 'wrong verifier');
  r = await exchange(await get(), { code_verifier: undefined });
  assert.equal(r.json.error, 'invalid_grant', 'missing verifier');
  r = await exchange(await get(), { code_verifier: challenge });
  assert.equal(r.json.error, 'invalid_grant', 'the challenge itself (plain)');
  r = await exchange(await get(), { redirect_uri: 'https://app.example/other' });
  assert.equal(r.json.error, 'invalid_grant', 'another redirect URI');
  // a code of tenant A at tenant B's token endpoint
  const bCode = await get();
  r = await oidcHttp(srv, 'POST', `/t/${TB}/token`, { form: { grant_type: 'authorization_code', code: bCode, redirect_uri: CB, code_verifier: verifier, client_id: spa.id } });
  assert.equal(r.status, 401, 'the client is unknown there');
});

test('a refresh token of one client used by another is refused, and stays good for its own', async () => {
  const verifier = client.randomPKCECodeVerifier();
  const { config, loc } = await codeFor(TA, spa, {
    scope: 'openid offline_access', code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state: 'r',
  });
  const t = await client.authorizationCodeGrant(config, loc, { pkceCodeVerifier: verifier, expectedState: 'r' });
  const r = await oidcHttp(srv, 'POST', `/t/${TA}/token`, { basic: [web.id, web.secret], form: { grant_type: 'refresh_token', refresh_token: t.refresh_token } });
  assert.equal(r.status, 400);
  assert.equal(r.json.error, 'invalid_grant');
  const t2 = await client.refreshTokenGrant(config, t.refresh_token);
  assert.ok(t2.access_token);
});

test('signing out of the hosted pages ends the browser session: authorize asks to sign in again', async () => {
  const out = await http('POST', `${srv.url}/ui/session-end?tenant=${TA}`, { json: {}, headers: { Origin: srv.url, 'Sec-Fetch-Site': 'same-origin', Cookie: `tessera=${cookie}` } });
  assert.ok(out.status < 300, out.text);
  const config = await configOf(TA, web);
  const url = client.buildAuthorizationUrl(config, { redirect_uri: CB, scope: 'openid', prompt: 'none', state: 'z' });
  const r = await oidcHttp(srv, 'GET', url.pathname + url.search, { headers: { Cookie: `tessera=${cookie}` } });
  const q = new URL(r.headers.location).searchParams;
  assert.equal(q.get('error'), 'login_required');
  assert.equal(q.get('state'), 'z');
});

test('end_session (RP-initiated logout): with id_token_hint it ends the tokens and the browser session, and goes only to a registered URI', async () => {
  cookie = null;
  const { config, loc } = await codeFor(TA, web, { scope: 'openid', state: 'e' });
  const t = await client.authorizationCodeGrant(config, loc, { expectedState: 'e', idTokenExpected: true });
  const rs = await configOf(TA, judge);
  assert.equal((await client.tokenIntrospection(rs, t.access_token)).active, true);
  // not registered: signed out on a page, never redirected there
  const other = client.buildEndSessionUrl(config, { post_logout_redirect_uri: 'https://evil.example/', state: 'q' });
  let r = await oidcHttp(srv, 'GET', other.pathname + other.search);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers.location, undefined);
  // a hint that is not ours
  r = await oidcHttp(srv, 'GET', `/t/${TA}/end_session?id_token_hint=${t.id_token.slice(0, -4)}AAAA`);
  assert.equal(r.status, 400);
  assert.equal((await client.tokenIntrospection(rs, t.access_token)).active, true, 'nothing ended');
  // a tenant B issuer does not take A's ID token
  r = await oidcHttp(srv, 'GET', `/t/${TB}/end_session?id_token_hint=${t.id_token}`);
  assert.equal(r.status, 400);
  const url = client.buildEndSessionUrl(config, { id_token_hint: t.id_token, post_logout_redirect_uri: BYE, state: 'bye 1' });
  r = await oidcHttp(srv, 'GET', url.pathname + url.search, { headers: { Cookie: `tessera=${cookie}` } });
  assert.equal(r.status, 303, r.text);
  const to = new URL(r.headers.location);
  assert.equal(`${to.origin}${to.pathname}`, BYE);
  assert.equal(to.searchParams.get('state'), 'bye 1');
  assert.match(r.headers['set-cookie']?.[0] ?? '', /Max-Age=0/);
  assert.deepEqual(await client.tokenIntrospection(rs, t.access_token), { active: false }, 'the grant\'s tokens end');
  // and the browser session is over
  const again = client.buildAuthorizationUrl(config, { redirect_uri: CB, scope: 'openid', prompt: 'none', state: 'z' });
  r = await oidcHttp(srv, 'GET', again.pathname + again.search, { headers: { Cookie: `tessera=${cookie}` } });
  assert.equal(new URL(r.headers.location).searchParams.get('error'), 'login_required');
});

test('a client that is not first-party asks for consent once (remembered); deny is access_denied; the form is same-origin only', async () => {
  cookie = await signIn(TA);
  const jar = { Cookie: `tessera=${cookie}` };
  const same = { ...jar, Origin: srv.url, 'Sec-Fetch-Site': 'same-origin' };
  const config = await configOf(TA, third);
  const state = `a"b<c>&'d ${crypto.randomBytes(3).toString('hex')}`;
  const url = client.buildAuthorizationUrl(config, { redirect_uri: CB, scope: 'openid email', state });
  let r = await oidcHttp(srv, 'GET', url.pathname + url.search, { headers: jar });
  assert.equal(r.status, 200, r.text);
  assert.match(r.headers['content-security-policy'], /form-action 'self'/);
  assert.match(r.text, /Allow Third &lt;App&gt;\?/);
  assert.doesNotMatch(r.text, /<App>|a"b<c>/, 'what the request sent is escaped');
  const fields = Object.fromEntries([...r.text.matchAll(/<input type="hidden" name="([a-z_]+)" value="([^"]*)">/g)]
    .map(([, k, v]) => [k, v.replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&#39;/g, "'").replace(/&amp;/g, '&')]));
  assert.equal(fields.state, state);
  assert.equal(fields.client_id, third.id);
  const post = (extra, headers = same) => oidcHttp(srv, 'POST', `/t/${TA}/consent`, { form: { ...fields, ...extra }, headers });
  // another site cannot consent for the person
  r = await post({ decision: 'allow' }, { ...jar, Origin: 'https://evil.example', 'Sec-Fetch-Site': 'cross-site' });
  assert.equal(r.status, 403);
  r = await post({ decision: 'allow' });
  assert.equal(r.status, 303, r.text);
  const loc = new URL(r.headers.location);
  assert.equal(loc.searchParams.get('state'), state);
  noteSecret(loc.searchParams.get('code'));
  const t = await client.authorizationCodeGrant(config, loc, { expectedState: state, idTokenExpected: true });
  assert.equal(t.claims().email, EMAIL);
  // remembered: the next authorization goes straight to the code
  r = await oidcHttp(srv, 'GET', url.pathname + url.search, { headers: jar });
  assert.equal(r.status, 303);
  assert.ok(new URL(r.headers.location).searchParams.get('code'));
  noteSecret(new URL(r.headers.location).searchParams.get('code'));
  // prompt=consent asks again; deny
  const again = client.buildAuthorizationUrl(config, { redirect_uri: CB, scope: 'openid', state: 's2', prompt: 'consent' });
  r = await oidcHttp(srv, 'GET', again.pathname + again.search, { headers: jar });
  assert.equal(r.status, 200);
  r = await oidcHttp(srv, 'POST', `/t/${TA}/consent`, { form: { client_id: third.id, redirect_uri: CB, response_type: 'code', scope: 'openid', state: 's2', prompt: 'consent', decision: 'deny' }, headers: same });
  assert.equal(r.status, 303, r.text);
  const q = new URL(r.headers.location).searchParams;
  assert.equal(q.get('error'), 'access_denied');
  assert.equal(q.get('state'), 's2');
  assert.equal(q.get('iss'), issuer(TA));
  // a consent form with an altered redirect URI is the error page, like authorize
  r = await post({ decision: 'allow', redirect_uri: 'https://evil.example/cb' });
  assert.equal(r.status, 400);
  assert.equal(r.headers.location, undefined);
});
