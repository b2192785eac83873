// Admin API (contract 000, issue 9): the authorization matrix. Every
// documented route of docs/openapi/admin.json but the token endpoint is in
// ROUTES (a test fails when one is missing), and every route is called by
// every kind of caller: the operator's admin (admin token), a tenant's admin
// (native access token), another tenant's admin, a plain user, the tenant's
// API key, a revoked API key, no token, an expired token.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import {
  startServer, newDb, cliOk, mkTenant, mkUser, loginOk, noteSecret, http, sleep,
} from '../lib/server.js';
import { FACES, faceHttp, adminToken } from '../lib/faces-helpers.js';

const long = () => 'correct horse battery ' + crypto.randomBytes(6).toString('hex');
const sfx = crypto.randomBytes(3).toString('hex');
const OP = `op-${sfx}`;
const TA = `ta-${sfx}`;
const TB = `tb-${sfx}`;

let db;
let srv;
const who = {};       // actor name -> bearer text (or null)
const ids = {};       // fixed users of tenant A
let seq = 0;

async function freshUser(tenant, extra = {}) {
  const email = `u${++seq}-${sfx}@a.example`;
  const password = long();
  const id = await mkUser(db, tenant, email, password, extra);
  return { id, email, password };
}

// A user of A with a TOTP factor (enrolled, not yet confirmed: the factor
// exists and can be removed).
async function userWithTotp() {
  const u = await freshUser(TA);
  const t = await loginOk(srv, u.email, u.password, { tenant_slug: TA });
  const r = await http('POST', srv.url + '/v1/mfa/totp/enroll', { token: t.token });
  assert.equal(r.status, 200, r.text);
  noteSecret(r.json.secret);
  // the factor's id (the factor table gives each row its own)
  const g = await call('GET', `/customers/${TA}/users/${u.id}`, who.op);
  assert.equal(g.status, 200, g.text);
  assert.equal(g.json.factors.length, 1, g.text);
  u.fid = g.json.factors[0].id;
  return u;
}

// A confidential service client of A (the command line, as the operator).
async function freshClient() {
  const out = await cliOk(['client', 'add', '--tenant', TA, '--name', `c${++seq}`, '--grant', 'client_credentials'], { db });
  const [id, secret] = out.split('\n');
  noteSecret(secret);
  return id;
}

const call = (method, rel, token, json, raw) =>
  faceHttp(srv, 'admin', method, rel, raw === undefined ? { token: token ?? undefined, json }
    : { token: token ?? undefined, body: raw, headers: { 'Content-Type': 'application/x-ndjson' } });

// Each route: how to make a request (fresh resources where it destroys
// them) and the status each authenticated caller gets. The unauthenticated
// callers (revoked key, none, expired) get 401 everywhere.
// op: operator admin, ta: A's admin, ob: B's admin, user: A's plain user,
// key: A's API key.
const ROUTES = [
  { m: 'GET', p: '/customers', make: async () => ['/customers'],
    want: { op: 200, ta: 200, ob: 200, user: 403, key: 200 } },
  { m: 'POST', p: '/customers', make: async () => ['/customers', { slug: `new-${sfx}-${++seq}` }],
    want: { op: 201, ta: 403, ob: 403, user: 403, key: 403 } },
  { m: 'GET', p: '/customers/{slug}', make: async () => [`/customers/${TA}`],
    want: { op: 200, ta: 200, ob: 404, user: 403, key: 200 } },
  { m: 'PATCH', p: '/customers/{slug}', make: async () => [`/customers/${TA}`, { name: `A ${++seq}` }],
    want: { op: 200, ta: 200, ob: 404, user: 403, key: 200 } },
  { m: 'DELETE', p: '/customers/{slug}',
    make: async () => {
      const s = `del-${sfx}-${++seq}`;
      await mkTenant(db, s);
      return [`/customers/${s}`];
    },
    // a tenant's admin never manages another tenant: 404, as for B's
    want: { op: 204, ta: 404, ob: 404, user: 403, key: 404 } },
  { m: 'GET', p: '/customers/{slug}/users', make: async () => [`/customers/${TA}/users`],
    want: { op: 200, ta: 200, ob: 404, user: 403, key: 200 } },
  { m: 'POST', p: '/customers/{slug}/users',
    make: async () => [`/customers/${TA}/users`, { email: `n${++seq}-${sfx}@a.example`, password: long() }],
    want: { op: 201, ta: 201, ob: 404, user: 403, key: 201 } },
  { m: 'POST', p: '/customers/{slug}/users/import',
    make: async () => [`/customers/${TA}/users/import`, undefined,
      `{"email":"imp${++seq}-${sfx}@a.example","password_hash":"$2b$05$abcdefghijklmnopqrstuu5Ks1Qw1hF6tNRtfvq2fvA5fS7O7g5Qm"}\n`],
    want: { op: 200, ta: 200, ob: 404, user: 403, key: 200 } },
  { m: 'GET', p: '/customers/{slug}/users/{id}', make: async () => [`/customers/${TA}/users/${ids.plain}`],
    want: { op: 200, ta: 200, ob: 404, user: 403, key: 200 } },
  { m: 'PATCH', p: '/customers/{slug}/users/{id}',
    make: async () => [`/customers/${TA}/users/${ids.target}`, { is_verified: true }],
    want: { op: 200, ta: 200, ob: 404, user: 403, key: 200 } },
  { m: 'DELETE', p: '/customers/{slug}/users/{id}',
    make: async () => [`/customers/${TA}/users/${(await freshUser(TA)).id}`],
    want: { op: 204, ta: 204, ob: 404, user: 403, key: 204 } },
  { m: 'POST', p: '/customers/{slug}/users/{id}/unlock',
    make: async () => [`/customers/${TA}/users/${ids.target}/unlock`],
    want: { op: 204, ta: 204, ob: 404, user: 403, key: 204 } },
  { m: 'DELETE', p: '/customers/{slug}/users/{id}/sessions',
    make: async () => [`/customers/${TA}/users/${ids.target}/sessions`],
    want: { op: 204, ta: 204, ob: 404, user: 403, key: 204 } },
  { m: 'DELETE', p: '/customers/{slug}/users/{id}/factors/{fid}',
    make: async () => {
      const u = await userWithTotp();
      return [`/customers/${TA}/users/${u.id}/factors/${u.fid}`];
    },
    want: { op: 204, ta: 204, ob: 404, user: 403, key: 204 } },
  // OpenID Connect clients (issue 11): the same rule as users
  { m: 'GET', p: '/customers/{slug}/clients', make: async () => [`/customers/${TA}/clients`],
    want: { op: 200, ta: 200, ob: 404, user: 403, key: 200 } },
  { m: 'POST', p: '/customers/{slug}/clients',
    make: async () => [`/customers/${TA}/clients`, { name: `svc ${++seq}`, grant_types: ['client_credentials'] }],
    want: { op: 201, ta: 201, ob: 404, user: 403, key: 201 } },
  { m: 'GET', p: '/customers/{slug}/clients/{client_id}', make: async () => [`/customers/${TA}/clients/${await freshClient()}`],
    want: { op: 200, ta: 200, ob: 404, user: 403, key: 200 } },
  { m: 'PATCH', p: '/customers/{slug}/clients/{client_id}',
    make: async () => [`/customers/${TA}/clients/${await freshClient()}`, { name: `renamed ${++seq}` }],
    want: { op: 200, ta: 200, ob: 404, user: 403, key: 200 } },
  { m: 'DELETE', p: '/customers/{slug}/clients/{client_id}', make: async () => [`/customers/${TA}/clients/${await freshClient()}`],
    want: { op: 204, ta: 204, ob: 404, user: 403, key: 204 } },
  { m: 'GET', p: '/audit', make: async () => ['/audit'],
    want: { op: 200, ta: 200, ob: 200, user: 403, key: 200 } },
  { m: 'GET', p: '/audit', name: 'GET /audit?customer=A', make: async () => [`/audit?customer=${TA}`],
    want: { op: 200, ta: 200, ob: 404, user: 403, key: 200 } },
];

const ACTORS = ['op', 'ta', 'ob', 'user', 'key', 'revoked', 'none', 'expired'];

before(async () => {
  db = newDb();
  for (const t of [OP, TA, TB]) await mkTenant(db, t);
  const opAdmin = await freshUser(OP, { admin: true });
  const aAdmin = await freshUser(TA, { admin: true });
  const bAdmin = await freshUser(TB, { admin: true });
  const plain = await freshUser(TA);
  const target = await freshUser(TA);
  ids.plain = plain.id;
  ids.target = target.id;
  const key = (await cliOk(['apikey', 'create', '--tenant', TA, '--name', 'ci'], { db })).trim();
  const revoked = (await cliOk(['apikey', 'create', '--tenant', TA, '--name', 'old'], { db })).trim();
  noteSecret(key);
  noteSecret(revoked);
  const list = await cliOk(['apikey', 'list', '--tenant', TA], { db });
  const oldId = list.split('\n').find((l) => l.split('\t')[1] === 'old').split('\t')[0];
  await cliOk(['apikey', 'revoke', oldId], { db });

  // A short-lived server on the same store issues the token that expires.
  const brief = await startServer({ db, args: ['--access-ttl', '1', '--sweep-interval', '0'] });
  const exp = await loginOk(brief, opAdmin.email, opAdmin.password, { tenant_slug: OP });
  await brief.stop();

  srv = await startServer({ db, args: ['--operator-tenant', OP, '--default-tenant', OP] });
  const tok = await adminToken(srv, { email: opAdmin.email, password: opAdmin.password });
  assert.equal(tok.status, 200, tok.text);
  Object.assign(who, {
    op: tok.json.accessToken,
    ta: (await loginOk(srv, aAdmin.email, aAdmin.password, { tenant_slug: TA })).token,
    ob: (await loginOk(srv, bAdmin.email, bAdmin.password, { tenant_slug: TB })).token,
    user: (await loginOk(srv, plain.email, plain.password, { tenant_slug: TA })).token,
    key,
    revoked,
    none: null,
    expired: exp.token,
  });
  await sleep(2100);   // past the expired token's 1 s
});

after(async () => {
  if (srv) await srv.stop();
});

test('every documented admin route is in the matrix', () => {
  const spec = FACES.admin.spec;
  for (const [p, item] of Object.entries(spec.paths)) {
    if (p === '/auth/token') continue;
    for (const m of Object.keys(item)) {
      if (m === 'parameters') continue;
      assert.ok(ROUTES.some((r) => r.p === p && r.m === m.toUpperCase()), `${m.toUpperCase()} ${p} is not in ROUTES`);
    }
  }
});

for (const route of ROUTES) {
  for (const actor of ACTORS) {
    const want = route.want[actor] ?? 401;
    test(`${route.name ?? `${route.m} ${route.p}`} as ${actor} -> ${want}`, async () => {
      const [rel, body, raw] = await route.make();
      const r = await call(route.m, rel, who[actor], body, raw);
      assert.equal(r.status, want, `${route.m} ${rel} as ${actor}: ${r.status} ${r.text}`);
      if (want === 401) {
        assert.match(r.headers['www-authenticate'] ?? '', /^Bearer/);
        assert.equal(r.json.code, actor === 'expired' ? 'token_expired' : 'unauthorized', r.text);
      }
      if (want === 403) assert.equal(r.json.code, 'forbidden', r.text);
      if (want === 404) assert.equal(r.json.code, 'not_found', r.text);
    });
  }
}

test('another tenant\'s admin sees only their own customer and audit rows', async () => {
  const c = await call('GET', '/customers', who.ob);
  assert.deepEqual(c.json.items.map((x) => x.slug), [TB]);
  const a = await call('GET', '/audit?limit=500', who.ob);
  assert.equal(a.status, 200);
  for (const e of a.json.items) assert.equal(e.customer, TB, JSON.stringify(e));
  const all = await call('GET', '/customers?limit=500', who.op);
  const slugs = all.json.items.map((x) => x.slug);
  for (const s of [OP, TA, TB]) assert.ok(slugs.includes(s), `${s} in ${slugs}`);
  assert.deepEqual([...slugs].sort(), slugs, 'by slug');
});

test('a tenant\'s admin cannot delete their own customer, nor rename the operator tenant', async () => {
  const r = await call('DELETE', `/customers/${TA}?force=true`, who.ta);
  assert.equal(r.status, 403, r.text);
  const r2 = await call('PATCH', `/customers/${OP}`, who.op, { slug: `other-${sfx}` });
  assert.equal(r2.status, 403, r2.text);
  const r3 = await call('DELETE', `/customers/${OP}?force=true`, who.op);
  assert.equal(r3.status, 403, r3.text);
});
