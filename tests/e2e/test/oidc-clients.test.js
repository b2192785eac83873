// OpenID Connect clients (issue 11, step 1): the admin API
// /admin/customers/{slug}/clients (list, create with the secret shown
// once, read, PATCH, DELETE) under the admin authorization (another
// tenant's client is 404), what a client may be (exact https or loopback
// redirect URIs, known grants and scopes, no client_credentials for a
// public client), and the command line's tessera client add|list|delete.
// Every answer is validated against docs/openapi/admin.json.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import {
  startServer, newDb, cli, cliOk, mkTenant, mkUser, loginOk, noteSecret, sqlQuery, UUID_RE,
} from '../lib/server.js';
import { faceHttp, adminToken } from '../lib/faces-helpers.js';

const long = () => 'correct horse battery ' + crypto.randomBytes(6).toString('hex');
const sfx = crypto.randomBytes(3).toString('hex');
const OP = `op-${sfx}`;
const TA = `ta-${sfx}`;
const TB = `tb-${sfx}`;

let db;
let srv;
let op;
let ta;   // an administrator of TA
let tb;   // an administrator of TB

const call = (method, rel, json, token = op) => faceHttp(srv, 'admin', method, rel, { token, json });

before(async () => {
  db = newDb();
  for (const t of [OP, TA, TB]) await mkTenant(db, t);
  const root = { email: `root-${sfx}@op.example`, password: long() };
  const a = { email: `a-${sfx}@a.example`, password: long() };
  const b = { email: `b-${sfx}@b.example`, password: long() };
  await mkUser(db, OP, root.email, root.password, { admin: true });
  await mkUser(db, TA, a.email, a.password, { admin: true });
  await mkUser(db, TB, b.email, b.password, { admin: true });
  srv = await startServer({ db, args: ['--operator-tenant', OP, '--default-tenant', OP] });
  const t = await adminToken(srv, root);
  assert.equal(t.status, 200, t.text);
  op = t.json.accessToken;
  ta = (await loginOk(srv, a.email, a.password, { tenant_slug: TA })).token;
  tb = (await loginOk(srv, b.email, b.password, { tenant_slug: TB })).token;
});

after(async () => {
  if (srv) await srv.stop();
});

test('a confidential client: created with its secret shown once (stored hashed), read, patched, listed, deleted', async () => {
  const r = await call('POST', `/customers/${TA}/clients`, {
    name: 'Web app', redirect_uris: ['https://app.example/cb', 'http://127.0.0.1:8080/cb'],
    post_logout_redirect_uris: ['https://app.example/'],
    grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
    scopes: ['openid', 'email', 'offline_access'], access_token_ttl: 300,
  }, ta);
  assert.equal(r.status, 201, r.text);
  const c = r.json;
  noteSecret(c.client_secret);
  assert.match(c.client_id, UUID_RE);
  assert.match(c.client_secret, /^[A-Za-z0-9_-]{43}$/);
  assert.equal(c.type, 'confidential');
  assert.equal(c.customer, TA);
  assert.deepEqual(c.redirect_uris, ['https://app.example/cb', 'http://127.0.0.1:8080/cb']);
  assert.deepEqual(c.post_logout_redirect_uris, ['https://app.example/']);
  assert.deepEqual(c.grant_types, ['authorization_code', 'refresh_token', 'client_credentials']);
  assert.deepEqual(c.scopes, ['openid', 'email', 'offline_access']);
  assert.equal(c.first_party, false);
  assert.equal(c.access_token_ttl, 300);
  assert.equal(c.refresh_token_ttl, 0);

  // only a hash of the secret is kept
  const stored = sqlQuery(db, `SELECT secret_hash FROM oidc_clients WHERE id = '${c.client_id}'`);
  assert.equal(stored.trim(), crypto.createHash('sha256').update(c.client_secret).digest('hex'));

  const g = await call('GET', `/customers/${TA}/clients/${c.client_id}`, undefined, ta);
  assert.equal(g.status, 200, g.text);
  assert.equal(g.json.client_secret, undefined, 'never shown again');
  const { client_secret: _s, ...shown } = c;
  assert.deepEqual(g.json, shown);

  const p = await call('PATCH', `/customers/${TA}/clients/${c.client_id}`, {
    name: 'Web app 2', redirect_uris: ['https://app.example/callback'], first_party: true,
  }, ta);
  assert.equal(p.status, 200, p.text);
  assert.equal(p.json.name, 'Web app 2');
  assert.deepEqual(p.json.redirect_uris, ['https://app.example/callback']);
  assert.equal(p.json.first_party, true);
  assert.deepEqual(p.json.scopes, ['openid', 'email', 'offline_access'], 'unchanged');

  const l = await call('GET', `/customers/${TA}/clients`, undefined, ta);
  assert.equal(l.status, 200, l.text);
  assert.deepEqual(l.json.items.map((x) => x.client_id), [c.client_id]);
  assert.equal(l.json.next_cursor, null);

  const d = await call('DELETE', `/customers/${TA}/clients/${c.client_id}`, undefined, ta);
  assert.equal(d.status, 204);
  assert.equal((await call('GET', `/customers/${TA}/clients/${c.client_id}`, undefined, ta)).status, 404);
  assert.equal((await call('DELETE', `/customers/${TA}/clients/${c.client_id}`, undefined, ta)).status, 404);
});

test('a public client has no secret and cannot have client_credentials; defaults', async () => {
  const r = await call('POST', `/customers/${TA}/clients`, {
    name: 'SPA', type: 'public', redirect_uris: ['http://localhost:3000/cb'],
  });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.type, 'public');
  assert.equal(r.json.client_secret, undefined);
  assert.deepEqual(r.json.grant_types, ['authorization_code', 'refresh_token']);
  assert.deepEqual(r.json.scopes, ['openid', 'email', 'profile']);
  const bad = await call('PATCH', `/customers/${TA}/clients/${r.json.client_id}`, { grant_types: ['client_credentials'] });
  assert.equal(bad.status, 400, bad.text);
  assert.equal(bad.json.details.field, 'grant_types');
  const ro = await call('PATCH', `/customers/${TA}/clients/${r.json.client_id}`, { type: 'confidential' });
  assert.equal(ro.status, 400, ro.text);
  assert.equal(ro.json.details.field, 'type');
});

test('what a client may not be: each refused with the field named', async () => {
  const cases = [
    [{ redirect_uris: ['https://a.example/cb'] }, 'name'],
    [{ name: 'x', redirect_uris: ['http://evil.example/cb'] }, 'redirect_uris'],
    [{ name: 'x', redirect_uris: ['https://a.example/cb#frag'] }, 'redirect_uris'],
    [{ name: 'x', redirect_uris: ['https://a.example/cb', 'https://a.example/cb'] }, 'redirect_uris'],
    [{ name: 'x', redirect_uris: ['http://localhost.evil.example/cb'] }, 'redirect_uris'],
    [{ name: 'x', redirect_uris: ['/relative'] }, 'redirect_uris'],
    [{ name: 'x' }, 'redirect_uris'],   // a code flow needs a redirect URI
    [{ name: 'x', redirect_uris: ['https://a.example/cb'], grant_types: ['implicit'] }, 'grant_types'],
    [{ name: 'x', redirect_uris: ['https://a.example/cb'], scopes: ['admin'] }, 'scopes'],
    [{ name: 'x', redirect_uris: ['https://a.example/cb'], access_token_ttl: 5 }, 'access_token_ttl'],
    [{ name: 'x', redirect_uris: ['https://a.example/cb'], type: 'other' }, 'type'],
    [{ name: 'x', redirect_uris: ['https://a.example/cb'], client_id: 'mine' }, 'client_id'],
  ];
  for (const [body, field] of cases) {
    const r = await call('POST', `/customers/${TA}/clients`, body);
    assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
    assert.equal(r.json.details.field, field, JSON.stringify(body));
  }
  // a service with only client_credentials needs no redirect URI
  const s = await call('POST', `/customers/${TA}/clients`, { name: 'svc', grant_types: ['client_credentials'] });
  assert.equal(s.status, 201, s.text);
  noteSecret(s.json.client_secret);
});

test('another tenant\'s clients are 404 to its administrators; the operator sees every tenant', async () => {
  const r = await call('POST', `/customers/${TA}/clients`, { name: 'A only', redirect_uris: ['https://a.example/cb'] }, ta);
  assert.equal(r.status, 201, r.text);
  noteSecret(r.json.client_secret);
  const id = r.json.client_id;
  assert.equal((await call('GET', `/customers/${TA}/clients/${id}`, undefined, tb)).status, 404);
  assert.equal((await call('GET', `/customers/${TA}/clients`, undefined, tb)).status, 404);
  assert.equal((await call('POST', `/customers/${TA}/clients`, { name: 'z', grant_types: ['client_credentials'] }, tb)).status, 404);
  assert.equal((await call('PATCH', `/customers/${TA}/clients/${id}`, { name: 'z' }, tb)).status, 404);
  assert.equal((await call('DELETE', `/customers/${TA}/clients/${id}`, undefined, tb)).status, 404);
  // named under TB's own slug, A's client is not there either
  assert.equal((await call('GET', `/customers/${TB}/clients/${id}`, undefined, tb)).status, 404);
  assert.equal((await call('DELETE', `/customers/${TB}/clients/${id}`, undefined, tb)).status, 404);
  assert.equal((await call('GET', `/customers/${TA}/clients/${id}`, undefined, op)).status, 200);
  assert.equal((await call('GET', `/customers/${TA}/clients`, undefined, null)).status, 401);
  const g = await call('GET', `/customers/${TA}/clients/${id}`, undefined, ta);
  assert.equal(g.json.name, 'A only', 'unchanged by the refused calls');
});

test('the command line: tessera client add|list|delete', async () => {
  const out = await cliOk(['client', 'add', '--tenant', TB, '--name', 'CLI app', '--redirect-uri', 'https://b.example/cb',
    '--redirect-uri', 'https://b.example/cb2', '--grant', 'authorization_code', '--scope', 'openid', '--scope', 'email'], { db });
  const [id, secret] = out.split('\n');
  noteSecret(secret);
  assert.match(id, UUID_RE);
  assert.match(secret, /^[A-Za-z0-9_-]{43}$/);
  const pub = await cliOk(['client', 'add', '--tenant', TB, '--name', 'Native', '--public', '--redirect-uri', 'http://127.0.0.1/cb'], { db });
  assert.match(pub, UUID_RE, 'a public client prints its id only');
  const list = (await cliOk(['client', 'list', '--tenant', TB], { db })).split('\n').map((l) => l.split('\t'));
  // by created_at, then id: the two were made within a second
  assert.deepEqual(list.map((l) => [l[0], l[1], l[2], l[4]]).sort((x, y) => x[1].localeCompare(y[1])), [
    [id, 'CLI app', 'confidential', 'https://b.example/cb https://b.example/cb2'],
    [pub, 'Native', 'public', 'http://127.0.0.1/cb'],
  ]);
  const g = await call('GET', `/customers/${TB}/clients/${id}`, undefined, tb);
  assert.equal(g.status, 200, g.text);
  assert.deepEqual(g.json.scopes, ['openid', 'email']);
  const bad = await cli(['client', 'add', '--tenant', TB, '--name', 'x', '--public', '--grant', 'client_credentials'], { db });
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /grant_types: not accepted/);
  const none = await cli(['client', 'add', '--tenant', `nope-${sfx}`, '--name', 'x', '--redirect-uri', 'https://b.example/cb'], { db });
  assert.equal(none.code, 1);
  assert.match(none.stderr, /no tenant/);
  await cliOk(['client', 'delete', '--tenant', TB, pub], { db });
  const wrong = await cli(['client', 'delete', '--tenant', TA, id], { db });
  assert.equal(wrong.code, 1, 'a client of another tenant is not found');
  assert.match(wrong.stderr, /no client/);
  const left = await cliOk(['client', 'list', '--tenant', TB], { db });
  assert.equal(left.split('\n').length, 1);
});
