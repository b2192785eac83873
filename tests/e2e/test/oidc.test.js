// Tessera as an OpenID Connect provider (issue 11, step 2), driven by a
// relying party no one here wrote (npm openid-client) and checked with
// jose: an issuer per tenant (<public-url>/t/{slug}) with its discovery
// document and JWKS, client_credentials with client_secret_basic and
// client_secret_post, introspection (RFC 7662), revocation (RFC 7009),
// userinfo, and the RFC 6749 §5.2 errors. Every answer, also those
// openid-client fetches, is validated against docs/openapi/oidc.json.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import * as client from 'openid-client';
import * as jose from 'jose';
import { newDb, mkTenant, cliOk, startServer, http } from '../lib/server.js';
import { oidcHttp, validatingFetch, startOidcServer, mkClient } from '../lib/oidc-helpers.js';

const sfx = crypto.randomBytes(3).toString('hex');
const TA = `oa-${sfx}`;
const TB = `ob-${sfx}`;

let db;
let srv;
let svc;      // a confidential client of A with client_credentials
let svcB;     // the same in B
let web;      // a confidential client of A without client_credentials

const issuer = (t) => `${srv.publicUrl}/t/${t}`;

async function discover(t, c, auth) {
  return client.discovery(new URL(issuer(t)), c.id, c.secret, auth, {
    execute: [client.allowInsecureRequests],
    [client.customFetch]: validatingFetch,
  });
}

async function configOf(t, c, auth) {
  const config = await discover(t, c, auth);
  config[client.customFetch] = validatingFetch;
  return config;
}

before(async () => {
  db = newDb();
  await mkTenant(db, TA);
  await mkTenant(db, TB);
  svc = await mkClient(db, TA, { name: 'svc', grants: ['client_credentials'], scopes: ['email', 'profile', 'openid'] });
  svcB = await mkClient(db, TB, { name: 'svc-b', grants: ['client_credentials'], scopes: ['email'] });
  web = await mkClient(db, TA, { name: 'web', redirects: ['https://app.example/cb'] });
  srv = await startOidcServer(db);
});

after(async () => {
  if (srv) await srv.stop();
});

test('discovery: each tenant is its own issuer; openid-client accepts the document', async () => {
  const config = await discover(TA, svc);
  const m = config.serverMetadata();
  assert.equal(m.issuer, issuer(TA));
  assert.equal(m.token_endpoint, `${issuer(TA)}/token`);
  assert.equal(m.jwks_uri, `${issuer(TA)}/jwks`);
  assert.equal(m.introspection_endpoint, `${issuer(TA)}/introspect`);
  assert.equal(m.revocation_endpoint, `${issuer(TA)}/revoke`);
  assert.equal(m.userinfo_endpoint, `${issuer(TA)}/userinfo`);
  assert.deepEqual(m.response_types_supported, ['code']);
  assert.deepEqual(m.code_challenge_methods_supported, ['S256']);
  assert.deepEqual(m.acr_values_supported, ['1', '2']);
  assert.equal(m.authorization_response_iss_parameter_supported, true);
  const b = await discover(TB, svcB);
  assert.equal(b.serverMetadata().issuer, issuer(TB));
  // the JWKS is the server's signing keys
  const jwks = await oidcHttp(srv, 'GET', `/t/${TA}/jwks`);
  const native = await http('GET', srv.url + '/.well-known/jwks.json');
  assert.deepEqual(jwks.json, native.json);
  assert.ok(jwks.json.keys.length >= 1);
  // an unknown tenant has no issuer
  const none = await oidcHttp(srv, 'GET', `/t/nope-${sfx}/.well-known/openid-configuration`);
  assert.equal(none.status, 404);
  assert.equal(none.json.error, 'not_found');
});

test('client_credentials with client_secret_basic and client_secret_post; jose validates the token against the JWKS', async () => {
  for (const auth of [client.ClientSecretBasic(svc.secret), client.ClientSecretPost(svc.secret)]) {
    const config = await configOf(TA, svc, auth);
    const t = await client.clientCredentialsGrant(config, { scope: 'email profile' });
    assert.equal(t.token_type.toLowerCase(), 'bearer');
    assert.equal(t.scope, 'email profile');
    assert.equal(t.refresh_token, undefined, 'RFC 6749 §4.4.3: no refresh token');
    assert.ok(t.expires_in > 0 && t.expires_in <= 900);
    const keys = jose.createRemoteJWKSet(new URL(`${issuer(TA)}/jwks`));
    const { payload } = await jose.jwtVerify(t.access_token, keys, { issuer: issuer(TA), audience: svc.id });
    assert.equal(payload.client_id, svc.id);
    assert.equal(payload.sub, svc.id);
    assert.equal(payload.scope, 'email profile');
    // another tenant's issuer refuses it
    await assert.rejects(jose.jwtVerify(t.access_token, keys, { issuer: issuer(TB) }), /iss/);
  }
  // no scope asked: none granted
  const t = await client.clientCredentialsGrant(await configOf(TA, svc));
  assert.equal(t.scope, undefined);
});

test('introspection and revocation through openid-client; a token of tenant A\'s issuer is inactive at tenant B', async () => {
  const config = await configOf(TA, svc);
  const { access_token: at } = await client.clientCredentialsGrant(config, { scope: 'email' });
  const i = await client.tokenIntrospection(config, at);
  assert.equal(i.active, true);
  assert.equal(i.client_id, svc.id);
  assert.equal(i.iss, issuer(TA));
  assert.equal(i.scope, 'email');
  assert.equal(i.token_type, 'Bearer');
  const atB = await client.tokenIntrospection(await configOf(TB, svcB), at);
  assert.deepEqual(atB, { active: false });
  // the other way round too
  const { access_token: bt } = await client.clientCredentialsGrant(await configOf(TB, svcB));
  assert.deepEqual(await client.tokenIntrospection(config, bt), { active: false });

  // a client cannot revoke another client's token
  await client.tokenRevocation(await configOf(TA, web), at);
  assert.equal((await client.tokenIntrospection(config, at)).active, true);
  await client.tokenRevocation(config, at);
  assert.deepEqual(await client.tokenIntrospection(config, at), { active: false });
  await client.tokenRevocation(config, at);   // again: still 200
  await client.tokenRevocation(config, 'not-a-token');
  assert.deepEqual(await client.tokenIntrospection(config, 'not-a-token'), { active: false });
});

test('tokens of a deleted client are refused', async () => {
  const gone = await mkClient(db, TA, { name: 'gone', grants: ['client_credentials'] });
  const config = await configOf(TA, gone);
  const { access_token: at } = await client.clientCredentialsGrant(config);
  const judge = await configOf(TA, svc);
  assert.equal((await client.tokenIntrospection(judge, at)).active, true);
  await cliOk(['client', 'delete', '--tenant', TA, gone.id], { db });
  assert.deepEqual(await client.tokenIntrospection(judge, at), { active: false });
  const r = await oidcHttp(srv, 'POST', `/t/${TA}/token`, { basic: [gone.id, gone.secret], form: { grant_type: 'client_credentials' } });
  assert.equal(r.status, 401);
  assert.equal(r.json.error, 'invalid_client');
});

test('RFC 6749 §5.2 errors', async () => {
  const tok = `/t/${TA}/token`;
  // invalid_client: wrong secret (basic: 401 with a Basic challenge), unknown client, another tenant's client, no secret
  let r = await oidcHttp(srv, 'POST', tok, { basic: [svc.id, svc.secret.slice(0, -1) + (svc.secret.endsWith('A') ? 'B' : 'A')], form: { grant_type: 'client_credentials' } });
  assert.equal(r.status, 401);
  assert.equal(r.json.error, 'invalid_client');
  assert.equal(r.headers['www-authenticate'], 'Basic realm="tessera"');
  r = await oidcHttp(srv, 'POST', tok, { form: { grant_type: 'client_credentials', client_id: crypto.randomUUID(), client_secret: svc.secret } });
  assert.equal(r.status, 401);
  assert.equal(r.json.error, 'invalid_client');
  r = await oidcHttp(srv, 'POST', tok, { form: { grant_type: 'client_credentials', client_id: svcB.id, client_secret: svcB.secret } });
  assert.equal(r.status, 401, 'a client of tenant B is unknown at tenant A');
  r = await oidcHttp(srv, 'POST', tok, { form: { grant_type: 'client_credentials', client_id: svc.id } });
  assert.equal(r.status, 401);
  assert.equal(r.json.error, 'invalid_client');
  // unsupported_grant_type, missing grant_type, unauthorized_client, invalid_scope
  r = await oidcHttp(srv, 'POST', tok, { basic: [svc.id, svc.secret], form: { grant_type: 'password', username: 'a', password: 'b' } });
  assert.equal(r.status, 400);
  assert.equal(r.json.error, 'unsupported_grant_type');
  r = await oidcHttp(srv, 'POST', tok, { basic: [svc.id, svc.secret], form: {} });
  assert.equal(r.json.error, 'invalid_request');
  r = await oidcHttp(srv, 'POST', tok, { basic: [web.id, web.secret], form: { grant_type: 'client_credentials' } });
  assert.equal(r.status, 400);
  assert.equal(r.json.error, 'unauthorized_client');
  for (const scope of ['openid', 'offline_access', 'admin', 'email admin']) {
    r = await oidcHttp(srv, 'POST', tok, { basic: [svc.id, svc.secret], form: { grant_type: 'client_credentials', scope } });
    assert.equal(r.status, 400, scope);
    assert.equal(r.json.error, 'invalid_scope', scope);
  }
  // a parameter twice, both ways of authenticating, not a form
  r = await oidcHttp(srv, 'POST', tok, { basic: [svc.id, svc.secret], headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials&grant_type=client_credentials' });
  assert.equal(r.json.error, 'invalid_request');
  r = await oidcHttp(srv, 'POST', tok, { basic: [svc.id, svc.secret], form: { grant_type: 'client_credentials', client_secret: svc.secret } });
  assert.equal(r.json.error, 'invalid_request');
  r = await oidcHttp(srv, 'POST', tok, { basic: [svc.id, svc.secret], headers: { 'Content-Type': 'application/json' }, body: '{"grant_type":"client_credentials"}' });
  assert.equal(r.status, 400);
  assert.equal(r.json.error, 'invalid_request');
  r = await oidcHttp(srv, 'GET', tok, { validate: false });   // a method the document has not
  assert.equal(r.status, 405);
  assert.equal(r.json.error, 'invalid_request');
  assert.equal(r.headers.allow, 'POST');
  // introspection and revocation want an authenticated client
  r = await oidcHttp(srv, 'POST', `/t/${TA}/introspect`, { form: { token: 'x', client_id: web.id } });
  assert.equal(r.status, 401);
  r = await oidcHttp(srv, 'POST', `/t/${TA}/revoke`, { form: { token: 'x' } });
  assert.equal(r.status, 401);
  r = await oidcHttp(srv, 'POST', `/t/${TA}/introspect`, { basic: [svc.id, svc.secret], form: {} });
  assert.equal(r.json.error, 'invalid_request');
});

test('userinfo: a token without a user (client_credentials) or none is invalid_token, GET and POST', async () => {
  const { access_token: at } = await client.clientCredentialsGrant(await configOf(TA, svc));
  for (const m of ['GET', 'POST']) {
    let r = await oidcHttp(srv, m, `/t/${TA}/userinfo`, { token: at });
    assert.equal(r.status, 401, m);
    assert.equal(r.json.error, 'invalid_token');
    assert.equal(r.headers['www-authenticate'], 'Bearer error="invalid_token"');
    r = await oidcHttp(srv, m, `/t/${TA}/userinfo`);
    assert.equal(r.status, 401, m);
    assert.equal(r.headers['www-authenticate'], 'Bearer');
  }
});

test('without --public-url there is no issuer (never built from Host)', async () => {
  const plain = await startServer({ db });
  try {
    const r = await oidcHttp(plain, 'GET', `/t/${TA}/.well-known/openid-configuration`);
    assert.equal(r.status, 404);
    assert.equal(r.json.error, 'not_found');
  } finally {
    await plain.stop();
  }
});
