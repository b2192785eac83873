// POST /admin/customers/{slug}/users/import (issue 9): JSON Lines of users
// with hashes made by another system (here bcrypt by mkpasswd, Debian
// whois), all or nothing unless skip_bad, the bad lines named by number,
// and the imported users log in with their old passwords (then rehashed).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { startServer, newDb, mkTenant, mkUser, loginOk, login, sqlQuery } from '../lib/server.js';
import { faceHttp, adminToken } from '../lib/faces-helpers.js';

const sfx = crypto.randomBytes(3).toString('hex');
const OP = `op-${sfx}`;
const TA = `ta-${sfx}`;
const PW = 'imported passphrase ' + crypto.randomBytes(4).toString('hex');
let db;
let srv;
let op;

const bcrypt = () => execFileSync('mkpasswd', ['-m', 'bcrypt', '-R', '5', '-s'], { input: PW, encoding: 'utf8' }).trim();
const jsonl = (rows) => rows.map((r) => (typeof r === 'string' ? r : JSON.stringify(r))).join('\n') + '\n';
const imp = (body, q = '', token = op) => faceHttp(srv, 'admin', 'POST', `/customers/${TA}/users/import${q}`,
  { token, body, headers: { 'Content-Type': 'application/x-ndjson' } });

before(async () => {
  db = newDb();
  await mkTenant(db, OP);
  await mkTenant(db, TA);
  const email = `root-${sfx}@op.example`;
  const password = 'operator passphrase ' + crypto.randomBytes(4).toString('hex');
  await mkUser(db, OP, email, password, { admin: true });
  srv = await startServer({ db, args: ['--operator-tenant', OP, '--default-tenant', OP] });
  const t = await adminToken(srv, { email, password });
  assert.equal(t.status, 200, t.text);
  op = t.json.accessToken;
});

after(async () => {
  if (srv) await srv.stop();
});

test('a bad line imports nothing and is named; skip_bad imports the rest; they log in and are rehashed', async () => {
  const h = bcrypt();
  const good1 = `a-${sfx}@a.example`;
  const good2 = `b-${sfx}@a.example`;
  const body = jsonl([
    { email: good1, password_hash: h, is_verified: true },
    '{"email": "broken"',
    { email: good2, password_hash: h, is_verified: true },
    { email: `c-${sfx}@a.example`, password_hash: 'md5$not-a-format-we-take' },
  ]);
  const r = await imp(body);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.lines, 4);
  assert.equal(r.json.imported, 0);
  assert.equal(r.json.bad, 2);
  assert.deepEqual(r.json.errors.map((e) => e.line), [2, 4]);
  assert.equal(sqlQuery(db, `SELECT count(*) FROM users WHERE email IN ('${good1}', '${good2}')`), '0');

  const s = await imp(body, '?skip_bad=true');
  assert.equal(s.status, 200, s.text);
  assert.equal(s.json.imported, 2, s.text);
  assert.equal(s.json.bad, 2);

  const before = sqlQuery(db, `SELECT password_hash FROM users WHERE email = '${good1}'`);
  assert.match(before, /^\$2b\$05\$/);
  await loginOk(srv, good1, PW, { tenant_slug: TA });
  assert.equal((await login(srv, good2, PW + 'x', { tenant_slug: TA })).status, 401);
  let after = '';
  for (let i = 0; i < 40 && !after.startsWith('$argon2id$'); i++) {
    after = sqlQuery(db, `SELECT password_hash FROM users WHERE email = '${good1}'`);
    if (!after.startsWith('$argon2id$')) await new Promise((res) => setTimeout(res, 50));
  }
  assert.match(after, /^\$argon2id\$/);

  // the same lines again: the addresses are taken, named as such
  const again = await imp(jsonl([{ email: good1, password_hash: h }]), '?skip_bad=true');
  assert.equal(again.status, 200, again.text);
  assert.equal(again.json.imported, 0);
  assert.equal(again.json.bad, 1);
});

test('bad requests: no body, skip_bad not a boolean, an unknown customer, no token', async () => {
  assert.equal((await imp('')).status, 400);
  assert.equal((await imp(jsonl([{ email: `d-${sfx}@a.example`, password_hash: bcrypt() }]), '?skip_bad=yes')).status, 400);
  const u = await faceHttp(srv, 'admin', 'POST', `/customers/nope-${sfx}/users/import`,
    { token: op, body: '{}\n', headers: { 'Content-Type': 'application/x-ndjson' } });
  assert.equal(u.status, 404, u.text);
  const n = await faceHttp(srv, 'admin', 'POST', `/customers/${TA}/users/import`,
    { body: '{}\n', headers: { 'Content-Type': 'application/x-ndjson' } });
  assert.equal(n.status, 401, n.text);
});
