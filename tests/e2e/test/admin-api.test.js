// Admin API (contract 000, issue 9): what the routes do. Customers and
// users, mass assignment refused by name, pagination over 1,000 users,
// deletion rules, disabling and deleting end sessions, factors, the audit
// log (actors, no secrets, durable over a clean stop, retention) and the
// command line's mirror of the API. Every response is validated against
// docs/openapi/admin.json (faceHttp).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import {
  startServer, newDb, cli, cliOk, mkTenant, mkUser, loginOk, login, noteSecret, secrets, http,
  refresh, sleep, sqlQuery,
} from '../lib/server.js';
import { faceHttp, adminToken } from '../lib/faces-helpers.js';
import otplib from 'otplib';

const codeAt = (secret, step) => otplib.authenticator.clone({ epoch: step * 30000 + 1000 }).generate(secret);

const long = () => 'correct horse battery ' + crypto.randomBytes(6).toString('hex');
const sfx = crypto.randomBytes(3).toString('hex');
const OP = `op-${sfx}`;
const TA = `ta-${sfx}`;

let db;
let srv;
let op;       // the operator's admin token
let key;      // an API key of TA
let keyId;
let seq = 0;
const mail = () => `m${++seq}-${sfx}@a.example`;

const call = (method, rel, json, token = op) => faceHttp(srv, 'admin', method, rel, { token, json });

async function mkUserApi(tenant, extra = {}, token = op) {
  const r = await call('POST', `/customers/${tenant}/users`, { email: mail(), password: long(), ...extra }, token);
  assert.equal(r.status, 201, r.text);
  return r.json;
}

before(async () => {
  db = newDb();
  await mkTenant(db, OP);
  await mkTenant(db, TA);
  const email = `root-${sfx}@op.example`;
  const password = long();
  await mkUser(db, OP, email, password, { admin: true });
  key = await cliOk(['apikey', 'create', '--tenant', TA, '--name', 'deploy'], { db });
  noteSecret(key);
  keyId = (await cliOk(['apikey', 'list', '--tenant', TA], { db })).split('\t')[0];
  srv = await startServer({ db, args: ['--operator-tenant', OP, '--default-tenant', OP] });
  const t = await adminToken(srv, { email, password });
  assert.equal(t.status, 200, t.text);
  op = t.json.accessToken;
});

after(async () => {
  if (srv) await srv.stop();
});

test('customers: create with every setting, read, patch, list', async () => {
  const slug = `c-${sfx}`;
  const r = await call('POST', '/customers', {
    slug, name: 'Customer C', domains: ['C.Example.', 'login.c.example'], mfa_required: true,
    registration_open: true, password_min_length: 20,
  });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.slug, slug);
  assert.equal(r.json.name, 'Customer C');
  assert.deepEqual(r.json.domains, ['c.example', 'login.c.example']);
  assert.equal(r.json.mfa_required, true);
  assert.equal(r.json.registration_open, true);
  assert.equal(r.json.password_min_length, 20);
  const p = await call('PATCH', `/customers/${slug}`, { name: 'C2', domains: ['c2.example'], registration_open: false });
  assert.equal(p.status, 200, p.text);
  assert.equal(p.json.name, 'C2');
  assert.deepEqual(p.json.domains, ['c2.example']);
  assert.equal(p.json.registration_open, false);
  assert.equal(p.json.mfa_required, true, 'unchanged');
  const g = await call('GET', `/customers/${slug}`);
  assert.deepEqual(g.json, p.json);
  const dup = await call('POST', '/customers', { slug });
  assert.equal(dup.status, 409, dup.text);
  const taken = await call('PATCH', `/customers/${TA}`, { domains: ['c2.example'] });
  assert.equal(taken.status, 409, taken.text);
  assert.equal(taken.json.details.field, 'domains');
  const bad = await call('POST', '/customers', { slug: 'Not A Slug' });
  assert.equal(bad.status, 400);
  assert.equal(bad.json.details.field, 'slug');
  const pm = await call('PATCH', `/customers/${slug}`, { password_min_length: 3 });
  assert.equal(pm.status, 400);
  assert.equal(pm.json.details.field, 'password_min_length');
});

test('mass assignment: read-only and unknown members are refused by name, nothing applied', async () => {
  const cases = [
    ['POST', '/customers', { slug: `x-${sfx}`, id: '00000000-0000-4000-8000-000000000001' }, 'id', 'read-only field'],
    ['POST', '/customers', { slug: `x-${sfx}`, created_at: '2020-01-01T00:00:00Z' }, 'created_at', 'read-only field'],
    ['PATCH', `/customers/${TA}`, { tenant: OP }, 'tenant', 'read-only field'],
    ['PATCH', `/customers/${TA}`, { is_operator: true }, 'is_operator', 'unknown field'],
    ['POST', `/customers/${TA}/users`, { email: mail(), password: long(), tenant: OP }, 'tenant', 'read-only field'],
    ['POST', `/customers/${TA}/users`, { email: mail(), password: long(), disabled: false }, 'disabled', 'unknown field'],
    ['POST', `/customers/${TA}/users`, { email: mail(), password: long(), password_hash: '$argon2id$x' }, 'password_hash', 'read-only field'],
    ['POST', `/customers/${TA}/users`, { email: mail(), is_admin: 'yes' }, 'is_admin', 'must be a boolean'],
  ];
  for (const [m, rel, body, field, reason] of cases) {
    const r = await call(m, rel, body);
    assert.equal(r.status, 400, `${m} ${rel} ${JSON.stringify(body)}: ${r.text}`);
    assert.equal(r.json.code, 'invalid_request');
    assert.equal(r.json.details.field, field, r.text);
    assert.equal(r.json.details.reason, reason, r.text);
  }
  assert.equal((await call('GET', `/customers/x-${sfx}`)).status, 404, 'no customer was made');
  const u = await mkUserApi(TA);
  for (const body of [{ id: crypto.randomUUID() }, { tenant: OP }, { created_at: '2020-01-01T00:00:00Z' },
    { failed_logins: 0 }, { is_admin: true, email_norm: 'x@y.example' }, { factors: [] }]) {
    const r = await call('PATCH', `/customers/${TA}/users/${u.id}`, body);
    assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
    assert.equal(r.json.details.field, Object.keys(body).find((k) => k !== 'is_admin'));
  }
  const g = await call('GET', `/customers/${TA}/users/${u.id}`);
  assert.equal(g.json.is_admin, false, 'the refused PATCH applied nothing');
  assert.equal(g.json.id, u.id);
});

test('pagination over 1,000 users: every user once, by address, opaque cursors', async () => {
  const slug = `big-${sfx}`;
  assert.equal((await call('POST', '/customers', { slug })).status, 201);
  // Created through the API without a password: no hashing, so fast; each
  // answers that no invitation went out (no mail server here).
  const want = [];
  for (let i = 0; i < 1000; i += 25) {
    const batch = [];
    for (let j = i; j < i + 25; j++) {
      const email = `user${String(j).padStart(4, '0')}-${sfx}@big.example`;
      want.push(email);
      batch.push(call('POST', `/customers/${slug}/users`, { email }));
    }
    for (const r of await Promise.all(batch)) {
      assert.equal(r.status, 201, r.text);
      assert.equal(r.json.invitation, 'not_sent');
      assert.equal(r.json.invitation_error, 'mail_unconfigured');
    }
  }
  const seen = [];
  let cursor = null;
  let pages = 0;
  do {
    const r = await call('GET', `/customers/${slug}/users?limit=97${cursor ? `&cursor=${cursor}` : ''}`);
    assert.equal(r.status, 200, r.text);
    assert.ok(r.json.items.length <= 97);
    seen.push(...r.json.items.map((u) => u.email));
    cursor = r.json.next_cursor;
    if (cursor) assert.ok(!cursor.includes('@'), `cursor ${cursor} is opaque`);
    pages++;
  } while (cursor);
  assert.equal(pages, Math.ceil(1000 / 97));
  assert.deepEqual(seen, want.sort(), 'every user once, in address order');
  const bad = await call('GET', `/customers/${slug}/users?cursor=not-ours`);
  assert.equal(bad.status, 400);
  assert.equal(bad.json.details.field, 'cursor');
  const lim = await call('GET', `/customers/${slug}/users?limit=0`);
  assert.equal(lim.status, 400);
  assert.equal(lim.json.details.field, 'limit');
  const one = await call('GET', `/customers/${slug}/users?email=${encodeURIComponent(want[500].toUpperCase())}`);
  assert.deepEqual(one.json.items.map((u) => u.email), [want[500]]);
  assert.equal(one.json.next_cursor, null);
  const none = await call('GET', `/customers/${slug}/users?email=nobody%40big.example`);
  assert.deepEqual(none.json.items, []);
  // the command line lists the same users
  const lines = (await cliOk(['user', 'list', '--tenant', slug], { db })).split('\n');
  assert.deepEqual(lines.map((l) => l.split('\t')[1]), want);
  // a customer with users is deleted only with force
  const d = await call('DELETE', `/customers/${slug}`);
  assert.equal(d.status, 409, d.text);
  assert.equal((await call('GET', `/customers/${slug}`)).status, 200);
  const f = await call('DELETE', `/customers/${slug}?force=true`);
  assert.equal(f.status, 204, f.text);
  assert.equal((await call('GET', `/customers/${slug}`)).status, 404);
});

test('users: create, weak password, email change and clash, disable ends sessions, delete ends tokens', async () => {
  const short = await call('POST', `/customers/${TA}/users`, { email: mail(), password: 'shortpass' });
  assert.equal(short.status, 400, short.text);
  assert.equal(short.json.code, 'weak_password');
  assert.equal(short.json.details.reason, 'too_short');
  const password = long();
  const email = mail();
  const c = await call('POST', `/customers/${TA}/users`, { email, password, is_verified: true }, key);
  assert.equal(c.status, 201, c.text);
  assert.equal(c.json.is_verified, true);
  assert.equal(c.json.tenant, TA);
  assert.equal(c.json.invitation, undefined, 'a password was given: no invitation');
  const clash = await call('POST', `/customers/${TA}/users`, { email: email.toUpperCase(), password: long() });
  assert.equal(clash.status, 409);
  const other = await mkUserApi(TA);
  const e2 = await call('PATCH', `/customers/${TA}/users/${c.json.id}`, { email: other.email });
  assert.equal(e2.status, 409, e2.text);
  const newEmail = mail();
  const e3 = await call('PATCH', `/customers/${TA}/users/${c.json.id}`, { email: newEmail });
  assert.equal(e3.status, 200, e3.text);
  assert.equal(e3.json.email, newEmail);
  // disabling ends every session: the refresh token stops working
  const s = await loginOk(srv, newEmail, password, { tenant_slug: TA });
  const d = await call('PATCH', `/customers/${TA}/users/${c.json.id}`, { disabled: true });
  assert.equal(d.status, 200, d.text);
  assert.equal(d.json.disabled, true);
  assert.equal((await refresh(srv, s.refresh_token)).status, 401);
  assert.equal((await login(srv, newEmail, password, { tenant_slug: TA })).status, 401);
  await call('PATCH', `/customers/${TA}/users/${c.json.id}`, { disabled: false });
  const s2 = await loginOk(srv, newEmail, password, { tenant_slug: TA });
  // ending sessions
  assert.equal((await call('DELETE', `/customers/${TA}/users/${c.json.id}/sessions`)).status, 204);
  assert.equal((await refresh(srv, s2.refresh_token)).status, 401);
  // deleting the user: its tokens stop working, its id is gone
  const s3 = await loginOk(srv, newEmail, password, { tenant_slug: TA });
  assert.equal((await call('DELETE', `/customers/${TA}/users/${c.json.id}`)).status, 204);
  assert.equal((await http('GET', srv.url + '/v1/auth/me', { token: s3.token })).status, 401);
  assert.equal((await call('GET', `/customers/${TA}/users/${c.json.id}`)).status, 404);
  assert.equal((await call('DELETE', `/customers/${TA}/users/${c.json.id}`)).status, 404);
});

test('factors: every factor of the user is listed with its row id, and removed by it', async () => {
  const password = long();
  const u = await mkUserApi(TA, { password, is_verified: true });
  const s = await loginOk(srv, u.email, password, { tenant_slug: TA });
  const e = await http('POST', srv.url + '/v1/mfa/totp/enroll', { token: s.token });
  assert.equal(e.status, 200, e.text);
  noteSecret(e.json.secret);
  const g = await call('GET', `/customers/${TA}/users/${u.id}`);
  assert.deepEqual(g.json.factors.map((f) => [f.type, f.confirmed]), [['totp', false]]);
  const fid = g.json.factors[0].id;
  assert.match(fid, /^[0-9a-f-]{36}$/);
  assert.equal((await call('DELETE', `/customers/${TA}/users/${u.id}/factors/webauthn-1`)).status, 404);
  // another user's factor id under this user: 404, nothing removed
  const other = await mkUserApi(TA, { password: long(), is_verified: true });
  assert.equal((await call('DELETE', `/customers/${TA}/users/${other.id}/factors/${fid}`)).status, 404);
  assert.equal((await call('DELETE', `/customers/${TA}/users/${u.id}/factors/${fid}`)).status, 204);
  assert.deepEqual((await call('GET', `/customers/${TA}/users/${u.id}`)).json.factors, []);
  assert.equal((await call('DELETE', `/customers/${TA}/users/${u.id}/factors/${fid}`)).status, 404);
  // audit rows are written by a queue: give it a moment
  let a;
  for (let i = 0; i < 40; i++) {
    a = await call('GET', `/audit?user=${u.id}&type=mfa_removed`);
    if (a.status !== 200 || a.json.items.length) break;
    await sleep(50);
  }
  assert.equal(a.status, 200, a.text);
  assert.equal(a.json.items.length, 1, a.text);
});

test('unlock lifts a lock made by failed logins', async () => {
  const password = long();
  const u = await mkUserApi(TA, { password, is_verified: true });
  const lockSrv = await startServer({ db, args: ['--lock-after', '3', '--operator-tenant', OP] });
  try {
    for (let i = 0; i < 3; i++) await login(lockSrv, u.email, long(), { tenant_slug: TA });
    assert.notEqual((await login(lockSrv, u.email, password, { tenant_slug: TA })).status, 200, 'locked');
    const r = await faceHttp(lockSrv, 'admin', 'POST', `/customers/${TA}/users/${u.id}/unlock`, { token: key });
    assert.equal(r.status, 204, r.text);
    assert.equal((await login(lockSrv, u.email, password, { tenant_slug: TA })).status, 200);
  } finally {
    await lockSrv.stop();
  }
});

test('audit: admin changes with their actor, logins, filters, newest first, no secrets', async () => {
  const password = long();
  const u = await mkUserApi(TA, { password, is_verified: true }, key);
  await call('PATCH', `/customers/${TA}/users/${u.id}`, { is_admin: true }, op);
  const wrong = long();
  noteSecret(wrong);
  await login(srv, u.email, wrong, { tenant_slug: TA });
  const r = await call('GET', `/audit?customer=${TA}&user=${u.id}`);
  assert.equal(r.status, 200, r.text);
  const types = r.json.items.map((e) => e.type);
  assert.deepEqual(types.slice(0, 3), ['login_failed', 'admin_user_updated', 'admin_user_created'], types.join());
  const [failed, updated, created] = r.json.items;
  assert.equal(created.actor, `apikey:${keyId}`);
  assert.match(updated.actor, /^user:[0-9a-f-]{36}$/);
  assert.equal(updated.data.is_admin, 'true');
  assert.equal(failed.data.reason, 'credentials');
  assert.equal(failed.actor, null);
  for (const e of r.json.items) {
    assert.equal(e.customer, TA);
    assert.equal(e.user, u.id);
  }
  const ids = r.json.items.map((e) => Number(e.id));
  assert.deepEqual(ids, [...ids].sort((a, b) => b - a), 'newest first');
  // filters and paging
  const t = await call('GET', `/audit?type=admin_user_created&limit=1`);
  assert.equal(t.json.items.length, 1);
  assert.ok(t.json.next_cursor);
  const t2 = await call('GET', `/audit?type=admin_user_created&limit=1&cursor=${t.json.next_cursor}`);
  assert.ok(Number(t2.json.items[0].id) < Number(t.json.items[0].id));
  const future = await call('GET', '/audit?after=2999-01-01T00:00:00Z');
  assert.deepEqual(future.json.items, []);
  assert.equal((await call('GET', '/audit?after=yesterday')).status, 400);
  // no password, token or key anywhere in the log
  const all = await call('GET', '/audit?limit=500');
  for (const s of secrets) assert.ok(!all.text.includes(s), 'a secret is in the audit log');
  // the command line reads the same log
  const lines = (await cliOk(['audit', '--tenant', TA, '--user', u.id, '--limit', '3'], { db })).split('\n');
  assert.deepEqual(lines.map((l) => l.split('\t')[1]), ['login_failed', 'admin_user_updated', 'admin_user_created']);
});

test('audit: every event is in the table after a clean stop', async () => {
  const s2 = await startServer({ db, args: ['--operator-tenant', OP] });
  const n = 40;
  const rs = await Promise.all(Array.from({ length: n }, () => login(s2, `ghost-${sfx}@a.example`, long(), { tenant_slug: TA })));
  const failed = rs.filter((r) => r.status === 401).length;
  assert.ok(failed >= n / 2, `${failed} of ${n} were refused as wrong (others may be shed: 503)`);
  await s2.stop();
  const out = await cliOk(['audit', '--tenant', TA, '--type', 'login_failed', '--limit', '1000'], { db });
  const ghost = out.split('\n').filter((l) => l.split('\t')[3] === '-' && l.includes('"reason":"credentials"'));
  assert.equal(ghost.length, failed, `${ghost.length} of ${failed} failed logins are in the log`);
});

test('audit retention: the sweep deletes rows older than --audit-retention-days', async () => {
  const old = Math.floor(Date.now() / 1000) - 3 * 86400;
  sqlQuery(db, `INSERT INTO audit_log(at, event, tenant, user_id, actor, data) VALUES (${old}, 'ancient_${sfx}', '${TA}', '', 'cli', '{}')`);
  sqlQuery(db, `INSERT INTO audit_log(at, event, tenant, user_id, actor, data) VALUES (${old + 2 * 86400}, 'recent_${sfx}', '${TA}', '', 'cli', '{}')`);
  assert.throws(() => sqlQuery(db, `UPDATE audit_log SET event = 'x' WHERE event = 'recent_${sfx}'`), 'append-only');
  const s2 = await startServer({ db, args: ['--audit-retention-days', '2', '--sweep-interval', '1'] });
  try {
    let left = '';
    for (let i = 0; i < 50; i++) {
      left = sqlQuery(db, `SELECT event FROM audit_log WHERE event LIKE '%_${sfx}' ORDER BY event`);
      if (!left.includes('ancient')) break;
      await sleep(200);
    }
    assert.equal(left.trim(), `recent_${sfx}`);
  } finally {
    await s2.stop();
  }
});

test('the command line mirrors the API (tenant set|delete, user delete|sessions-revoke, apikey)', async () => {
  const slug = `cli-${sfx}`;
  await mkTenant(db, slug);
  await cliOk(['tenant', 'set', slug, '--name', 'From CLI', '--registration-open', '--password-min-length', '18', '--domain', 'cli.example'], { db });
  const g = await call('GET', `/customers/${slug}`);
  assert.equal(g.json.name, 'From CLI');
  assert.equal(g.json.registration_open, true);
  assert.equal(g.json.password_min_length, 18);
  assert.deepEqual(g.json.domains, ['cli.example']);
  const password = long();
  const email = mail();
  await mkUser(db, slug, email, password);
  const del = await cli(['tenant', 'delete', slug], { db });
  assert.equal(del.code, 1);
  assert.match(del.stderr, /has users; add --force/);
  const s = await loginOk(srv, email, password, { tenant_slug: slug });
  assert.match(await cliOk(['user', 'sessions-revoke', '--tenant', slug, '--email', email], { db }), /^ended 1 session of /);
  assert.equal((await refresh(srv, s.refresh_token)).status, 401);
  await cliOk(['user', 'delete', '--tenant', slug, '--email', email], { db });
  assert.deepEqual((await call('GET', `/customers/${slug}/users`)).json.items, []);
  await cliOk(['tenant', 'delete', slug], { db });
  assert.equal((await call('GET', `/customers/${slug}`)).status, 404);
  const audit = await cliOk(['audit', '--tenant', slug, '--limit', '10'], { db });
  const kinds = audit.split('\n').map((l) => l.split('\t')[1]);
  assert.deepEqual(kinds.slice(0, 3), ['admin_tenant_deleted', 'admin_user_deleted', 'admin_sessions_revoked']);
  assert.ok(kinds.includes('admin_tenant_updated'), kinds.join());
  for (const l of audit.split('\n').filter((x) => x.split('\t')[1].startsWith('admin_'))) assert.equal(l.split('\t')[4], 'cli');
  // API keys: created (shown once), listed, revoked: a revoked key is refused
  const k = await cliOk(['apikey', 'create', '--tenant', TA, '--name', 'temp'], { db });
  noteSecret(k);
  assert.match(k, /^tsk_[A-Za-z0-9_-]{43}$/);
  assert.equal((await call('GET', `/customers/${TA}`, undefined, k)).status, 200);
  const row = (await cliOk(['apikey', 'list', '--tenant', TA], { db })).split('\n').find((l) => l.split('\t')[1] === 'temp');
  assert.ok(!row.includes(k), 'the list never shows a key');
  await cliOk(['apikey', 'revoke', row.split('\t')[0]], { db });
  assert.equal((await call('GET', `/customers/${TA}`, undefined, k)).status, 401);
  const stored = sqlQuery(db, 'SELECT hash FROM api_keys');
  assert.ok(!stored.includes(k.slice(4)), 'only hashes are stored');
  // disabling on the command line ends sessions too (the engine's rule)
  const password2 = long();
  const email2 = mail();
  await mkUser(db, TA, email2, password2);
  const s2 = await loginOk(srv, email2, password2, { tenant_slug: TA });
  assert.match(await cliOk(['user', 'disable', '--tenant', TA, '--email', email2], { db }), /ended 1 session/);
  assert.equal((await refresh(srv, s2.refresh_token)).status, 401);
});

test('an administrator with a second factor uses a native access token (the admin token refuses them)', async () => {
  const password = long();
  const u = await mkUserApi(TA, { password, is_verified: true, is_admin: true });
  const t = await loginOk(srv, u.email, password, { tenant_slug: TA });
  const e = await http('POST', srv.url + '/v1/mfa/totp/enroll', { token: t.token });
  noteSecret(e.json.secret);
  const left = 30 - ((Date.now() / 1000) % 30);
  if (left < 8) await sleep(left * 1000 + 200);
  const step = Math.floor(Date.now() / 30000);
  const c = await http('POST', srv.url + '/v1/mfa/totp/confirm', { token: t.token, json: { code: codeAt(e.json.secret, step) } });
  assert.equal(c.status, 200, c.text);
  const l = await login(srv, u.email, password, { tenant_slug: TA });
  assert.ok(l.json.challenge_id, l.text);
  const m = await http('POST', srv.url + '/v1/auth/mfa/challenge', { json: { challenge_id: l.json.challenge_id, method: 'totp', code: codeAt(e.json.secret, step + 1) } });
  assert.equal(m.status, 200, m.text);
  noteSecret(m.json.refresh_token);
  const r = await call('GET', `/customers/${TA}`, undefined, m.json.token);
  assert.equal(r.status, 200, r.text);
  const a = await adminToken(srv, { email: u.email, password }, { headers: { 'X-Tenant-Slug': TA } });
  assert.equal(a.status, 401);
});

test('unknown paths and methods under the admin prefix', async () => {
  const r = await http('PUT', `${srv.url}/admin/customers/${TA}`, { token: op, json: { name: 'x' }, validate: false });
  assert.equal(r.status, 405, r.text);
  assert.equal(r.headers.allow, 'GET, HEAD, PATCH, DELETE');
  const n = await http('GET', `${srv.url}/admin/customers/${TA}/nothing`, { token: op, validate: false });
  assert.equal(n.status, 404);
  const pre = await http('OPTIONS', `${srv.url}/admin/customers`, { validate: false });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers.allow, 'GET, HEAD, POST');
});
