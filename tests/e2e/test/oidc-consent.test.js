// Consents revocable on the account page (issue 11): a consent given on
// the consent page is listed by GET /v1/auth/consents (what the account
// page's script calls with its short-lived token from /ui/session-token),
// withdrawn by DELETE /v1/auth/consents/{client_id}, which also ends the
// client's grant (its refresh token stops working); the next authorize
// asks again (prompt=none: consent_required). Every answer is validated
// against docs/openapi/native.json and oidc.json.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import * as client from 'openid-client';
import { newDb, mkTenant, mkUser, http, noteSecret } from '../lib/server.js';
import { oidcHttp, validatingFetch, startOidcServer, mkClient } from '../lib/oidc-helpers.js';

const sfx = crypto.randomBytes(3).toString('hex');
const TA = `cs-${sfx}`;
const TB = `ct-${sfx}`;
const CB = 'https://app.example/cb';
const EMAIL = `cora-${sfx}@example.com`;
const PASSWORD = 'correct horse battery ' + crypto.randomBytes(6).toString('hex');

let db;
let srv;
let third;     // confidential, not first-party, offline_access
let other;     // another client of the tenant, never allowed
let foreign;   // a client of tenant B

const issuer = (t) => `${srv.publicUrl}/t/${t}`;

async function configOf(t, c) {
  const config = await client.discovery(new URL(issuer(t)), c.id, c.secret,
    client.ClientSecretBasic(c.secret),
    { execute: [client.allowInsecureRequests], [client.customFetch]: validatingFetch });
  config[client.customFetch] = validatingFetch;
  return config;
}

const same = (cookie) => ({ Cookie: `tessera=${cookie}`, Origin: srv.url, 'Sec-Fetch-Site': 'same-origin' });

async function signIn(t) {
  const r = await http('POST', `${srv.url}/ui/session-password?tenant=${t}`, {
    json: { email: EMAIL, password: PASSWORD }, headers: { Origin: srv.url, 'Sec-Fetch-Site': 'same-origin' },
  });
  assert.equal(r.status, 200, r.text);
  const m = /^(?:__Host-)?tessera=([A-Za-z0-9_-]{43});/.exec(r.headers['set-cookie']?.[0] ?? '');
  assert.ok(m, `Set-Cookie: ${r.headers['set-cookie']}`);
  noteSecret(m[1]);
  return m[1];
}

/** The account page's bearer token, as its script gets it. */
async function pageToken(t, cookie) {
  const r = await http('POST', `${srv.url}/ui/session-token?tenant=${t}`, { json: {}, headers: same(cookie) });
  assert.equal(r.status, 200, r.text);
  noteSecret(r.json.token);
  return r.json.token;
}

const api = (method, path, token, t = TA) => http(method, `${srv.url}${path}`, {
  headers: { Authorization: `Bearer ${token}`, 'X-Tenant-Slug': t },
});

before(async () => {
  db = newDb();
  await mkTenant(db, TA);
  await mkTenant(db, TB);
  await mkUser(db, TA, EMAIL, PASSWORD);
  third = await mkClient(db, TA, { name: 'Third App', redirects: [CB],
    grants: ['authorization_code', 'refresh_token'], scopes: ['openid', 'email', 'offline_access'] });
  other = await mkClient(db, TA, { name: 'Other App', redirects: [CB] });
  foreign = await mkClient(db, TB, { name: 'Foreign', redirects: [CB] });
  srv = await startOidcServer(db);
});

after(async () => {
  if (srv) await srv.stop();
});

test('a consent given on the consent page is listed, revoked (ending the grant), and the next authorize asks again', async () => {
  const cookie = await signIn(TA);
  const jar = { Cookie: `tessera=${cookie}` };
  const config = await configOf(TA, third);
  const url = client.buildAuthorizationUrl(config, { redirect_uri: CB, scope: 'openid email offline_access', state: 'c1' });
  let r = await oidcHttp(srv, 'GET', url.pathname + url.search, { headers: jar });
  assert.equal(r.status, 200, 'the consent page');
  assert.match(r.text, /Allow Third App\?/);
  const fields = Object.fromEntries([...r.text.matchAll(/<input type="hidden" name="([a-z_]+)" value="([^"]*)">/g)]
    .map(([, k, v]) => [k, v.replace(/&amp;/g, '&')]));
  const before = Math.floor(Date.now() / 1000);
  r = await oidcHttp(srv, 'POST', `/t/${TA}/consent`, { form: { ...fields, decision: 'allow' }, headers: same(cookie) });
  assert.equal(r.status, 303, r.text);
  const loc = new URL(r.headers.location);
  noteSecret(loc.searchParams.get('code'));
  const tokens = await client.authorizationCodeGrant(config, loc, { expectedState: 'c1', idTokenExpected: true });
  assert.ok(tokens.refresh_token);
  noteSecret(tokens.refresh_token);

  // listed, with the client's name, the scopes and when
  const token = await pageToken(TA, cookie);
  r = await api('GET', '/v1/auth/consents', token);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.items.length, 1, 'only the client allowed');
  const [c] = r.json.items;
  assert.equal(c.client_id, third.id);
  assert.equal(c.client_name, 'Third App');
  assert.equal(c.scope, 'openid email offline_access');
  const at = Date.parse(c.created_at) / 1000;
  assert.ok(at >= before - 1 && at <= Date.now() / 1000 + 1, c.created_at);
  // the grant is one of the user's sessions
  r = await api('GET', '/v1/auth/sessions', token);
  assert.ok(r.json.items.some((s) => s.user_agent === 'OpenID Connect: Third App'));

  // a client never allowed, another tenant's, an unknown id: 404, nothing changes
  for (const id of [other.id, foreign.id, crypto.randomUUID(), 'x'.repeat(80)]) {
    r = await api('DELETE', `/v1/auth/consents/${id}`, token);
    assert.equal(r.status, 404, id);
    assert.equal(r.json.code, 'not_found');
  }
  r = await api('GET', '/v1/auth/consents', token);
  assert.equal(r.json.items.length, 1);

  // revoked: gone from the list, the grant ended with its tokens
  r = await api('DELETE', `/v1/auth/consents/${third.id}`, token);
  assert.equal(r.status, 204, r.text);
  r = await api('GET', '/v1/auth/consents', token);
  assert.deepEqual(r.json.items, []);
  r = await api('GET', '/v1/auth/sessions', token);
  assert.ok(!r.json.items.some((s) => s.user_agent === 'OpenID Connect: Third App'), 'the grant ended');
  assert.ok(r.json.items.some((s) => s.current), 'the account page session stays');
  await assert.rejects(client.refreshTokenGrant(config, tokens.refresh_token), (e) => e.error === 'invalid_grant');
  r = await api('DELETE', `/v1/auth/consents/${third.id}`, token);
  assert.equal(r.status, 404, 'a second revoke finds nothing');

  // the next authorize asks again: prompt=none says consent_required, else the page
  const none = client.buildAuthorizationUrl(config, { redirect_uri: CB, scope: 'openid', state: 'c2', prompt: 'none' });
  r = await oidcHttp(srv, 'GET', none.pathname + none.search, { headers: jar });
  assert.equal(r.status, 303, r.text);
  const q = new URL(r.headers.location).searchParams;
  assert.equal(q.get('error'), 'consent_required');
  assert.equal(q.get('state'), 'c2');
  r = await oidcHttp(srv, 'GET', url.pathname + url.search, { headers: jar });
  assert.equal(r.status, 200);
  assert.match(r.text, /Allow Third App\?/);
});

test('the consent routes need a bearer token of a full session', async () => {
  let r = await http('GET', `${srv.url}/v1/auth/consents`, { headers: { 'X-Tenant-Slug': TA } });
  assert.equal(r.status, 401);
  r = await http('DELETE', `${srv.url}/v1/auth/consents/${third.id}`, { headers: { 'X-Tenant-Slug': TA } });
  assert.equal(r.status, 401);
});
