// Contract 000, the admin token face (POST /admin/auth/token): every
// documented status from a real condition, each response validated against
// docs/openapi/admin.json.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as jose from 'jose';
import { newDb, sqliteOnly, mkTenant, mkUser, cliOk, http, pw, decodeJwt, ISSUER, me } from '../lib/server.js';
import {
  startFaceServer, faceHttp, adminToken, assertAdmin, enrollTotp, lockDb, sql,
} from '../lib/faces-helpers.js';

describe('contract 000: POST /admin/auth/token', { timeout: 120000 }, () => {
  let srv;
  const db = newDb();
  const P = { root: pw(), plain: pw(), unver: pw(), off: pw(), totp: pw(), boss: pw(), chief: pw() };
  const ids = {};

  before(async () => {
    await mkTenant(db, 'acme', { domains: ['acme.test'] });
    await mkTenant(db, 'globex', { domains: ['globex.test'] });
    await mkTenant(db, 'strict', { domains: ['strict.test'], mfaRequired: true });
    ids.root = await mkUser(db, 'acme', 'root@example.com', P.root, { admin: true });
    await mkUser(db, 'acme', 'plain@example.com', P.plain);
    await mkUser(db, 'acme', 'unver@example.com', P.unver, { admin: true, verified: false });
    await mkUser(db, 'acme', 'off@example.com', P.off, { admin: true });
    await cliOk(['user', 'disable', '--tenant', 'acme', '--email', 'off@example.com'], { db });
    await mkUser(db, 'acme', 'totp@example.com', P.totp, { admin: true });
    await mkUser(db, 'globex', 'boss@globex.test', P.boss, { admin: true });
    await mkUser(db, 'strict', 'chief@strict.test', P.chief, { admin: true });
    // a short busy timeout, so a locked database answers 503 quickly
    srv = await startFaceServer({ db, defaultTenant: 'acme', dsn: '?busy_timeout=300' });
    await enrollTotp(srv, 'totp@example.com', P.totp);
  });
  after(async () => {
    if (srv) await srv.stop();
  });

  it('200 {accessToken, tokenType:"bearer", expiresIn}: the engine JWT, good on the native API', async () => {
    const r = await adminToken(srv, { email: 'root@example.com', password: P.root });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(Object.keys(r.json).sort(), ['accessToken', 'expiresIn', 'tokenType']);
    assert.equal(r.json.tokenType, 'bearer');
    assert.ok(Number.isInteger(r.json.expiresIn) && r.json.expiresIn > 890 && r.json.expiresIn <= 900, r.text);
    const jwks = jose.createRemoteJWKSet(new URL(srv.url + '/.well-known/jwks.json'));
    const { payload } = await jose.jwtVerify(r.json.accessToken, jwks, { issuer: ISSUER, audience: 'tessera' });
    assert.equal(payload.sub, ids.root);
    assert.deepEqual(payload.amr, ['pwd']);
    assert.equal(payload.exp - payload.iat, r.json.expiresIn);
    const m = await me(srv, r.json.accessToken);
    assert.equal(m.status, 200, m.text);
    assert.equal(m.json.user.email, 'root@example.com');
    assert.equal(m.json.user.is_admin, true);
  });

  it('unknown fields are ignored; the email matches case-insensitively', async () => {
    const r = await adminToken(srv, { email: 'Root@Example.com', password: P.root, tenant_slug: 'globex', x: [1, { y: 2 }] });
    assert.equal(r.status, 200, r.text);
    assert.equal(decodeJwt(r.json.accessToken).payload.sub, ids.root, 'the body names no tenant: tenant_slug is ignored');
  });

  it('the tenant is the Host domain, else the default tenant', async () => {
    const r = await adminToken(srv, { email: 'boss@globex.test', password: P.boss }, { headers: { Host: 'globex.test' } });
    assert.equal(r.status, 200, r.text);
    assertAdmin(await adminToken(srv, { email: 'boss@globex.test', password: P.boss }), 401, 'invalid_credentials');
    assertAdmin(await adminToken(srv, { email: 'root@example.com', password: P.root }, { headers: { Host: 'globex.test' } }), 401, 'invalid_credentials');
    // a Host that is no tenant's domain falls back to the default tenant
    assert.equal((await adminToken(srv, { email: 'root@example.com', password: P.root }, { headers: { Host: 'elsewhere.test' } })).status, 200);
  });

  it('400 invalid_request: bodies that are not the contract\'s object', async () => {
    const cases = [
      ['no body', { body: undefined }, undefined],
      ['empty body', { body: '' }, undefined],
      ['not JSON', { body: 'email=a&password=b' }, undefined],
      ['a JSON array', { body: '[]' }, undefined],
      ['a JSON string', { body: '"x"' }, undefined],
      ['invalid UTF-8', { body: Buffer.from([0x7b, 0x22, 0x65, 0xff, 0x22, 0x3a, 0x31, 0x7d]) }, undefined],
      ['duplicate keys', { body: `{"email":"root@example.com","email":"x@example.com","password":"${P.root}"}` }, undefined],
      ['nested 40 deep', { body: `{"email":"a@example.com","password":"x","z":${'['.repeat(40)}${']'.repeat(40)}}` }, undefined],
      ['over 16 KiB', { body: JSON.stringify({ email: 'a@example.com', password: 'x', pad: 'p'.repeat(17 * 1024) }) }, undefined],
      ['a form Content-Type', { body: '{"email":"a@example.com","password":"x"}', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } }, undefined],
      ['email missing', { json: { password: 'x' } }, 'email'],
      ['email null', { json: { email: null, password: 'x' } }, 'email'],
      ['email a number', { json: { email: 7, password: 'x' } }, 'email'],
      ['email not an address', { json: { email: 'root', password: 'x' } }, 'email'],
      ['email without a dotted domain', { json: { email: 'root@localhost', password: 'x' } }, 'email'],
      ['password missing', { json: { email: 'root@example.com' } }, 'password'],
      ['password empty', { json: { email: 'root@example.com', password: '' } }, 'password'],
      ['password an object', { json: { email: 'root@example.com', password: { a: 1 } } }, 'password'],
      ['password over 1024 bytes', { json: { email: 'root@example.com', password: 'p'.repeat(1025) } }, 'password'],
    ];
    for (const [what, opts, field] of cases) {
      const r = await faceHttp(srv, 'admin', 'POST', '/auth/token', opts);
      assertAdmin(r, 400, 'invalid_request');
      if (field) assert.equal(r.json.details.field, field, `${what}: ${r.text}`);
      assert.equal(typeof r.json.details.reason, 'string', `${what}: ${r.text}`);
    }
  });

  it('401 invalid_credentials: unknown email, wrong password and a disabled account look the same', async () => {
    const wrong = await adminToken(srv, { email: 'root@example.com', password: 'Wrong-password-1' });
    const unknown = await adminToken(srv, { email: 'nobody@example.com', password: 'Wrong-password-1' });
    const disabled = await adminToken(srv, { email: 'off@example.com', password: P.off });
    for (const r of [wrong, unknown, disabled]) assertAdmin(r, 401, 'invalid_credentials');
    assert.equal(unknown.text, wrong.text);
    assert.equal(disabled.text, wrong.text);
  });

  it('401 after a correct password: email_not_verified, not_admin, mfa_required', async () => {
    assertAdmin(await adminToken(srv, { email: 'unver@example.com', password: P.unver }), 401, 'email_not_verified');
    assertAdmin(await adminToken(srv, { email: 'plain@example.com', password: P.plain }), 401, 'not_admin');
    // a user with TOTP, and an admin of a tenant that requires MFA
    assertAdmin(await adminToken(srv, { email: 'totp@example.com', password: P.totp }), 401, 'mfa_required');
    assertAdmin(await adminToken(srv, { email: 'chief@strict.test', password: P.chief }, { headers: { Host: 'strict.test' } }), 401, 'mfa_required');
    // with a wrong password each of them is only invalid_credentials
    for (const email of ['unver@example.com', 'plain@example.com', 'totp@example.com']) {
      assertAdmin(await adminToken(srv, { email, password: 'Wrong-password-1' }), 401, 'invalid_credentials');
    }
  });

  it('500 internal_error when the store fails (a damaged schema: no sessions table) [SQLite only: a schema sabotaged with the sqlite3 CLI]', sqliteOnly('a schema sabotaged with the sqlite3 CLI'), async () => {
    sql(db, 'ALTER TABLE sessions RENAME TO sessions_gone;');
    try {
      assertAdmin(await adminToken(srv, { email: 'root@example.com', password: P.root }), 500, 'internal_error');
    } finally {
      sql(db, 'ALTER TABLE sessions_gone RENAME TO sessions;');
    }
    assert.equal((await adminToken(srv, { email: 'root@example.com', password: P.root })).status, 200);
  });

  it('503 store_unavailable + Retry-After while another process holds the database locked [SQLite only: a lock held by the sqlite3 CLI]', sqliteOnly('a lock held by the sqlite3 CLI'), async () => {
    const lock = await lockDb(db);
    let r;
    try {
      r = await adminToken(srv, { email: 'root@example.com', password: P.root });
    } finally {
      await lock.release();
    }
    assertAdmin(r, 503, 'store_unavailable');
    assert.match(r.headers['retry-after'], /^[1-9][0-9]*$/);
    assert.equal((await adminToken(srv, { email: 'root@example.com', password: P.root })).status, 200, 'recovers once the lock is gone');
  });

  it('only POST: another method is 405', async () => {
    const r = await http('GET', srv.url + '/admin/auth/token', { validate: false });
    assert.equal(r.status, 405);
  });
});

describe('contract 000: rate limits', { timeout: 60000 }, () => {
  let srv;
  const db = newDb();
  const P = pw();
  before(async () => {
    await mkTenant(db, 'acme');
    await mkUser(db, 'acme', 'root@example.com', P, { admin: true });
    srv = await startFaceServer({ db, defaultTenant: 'acme', limits: true, args: ['--rl-account-burst', '2'] });
  });
  after(async () => {
    if (srv) await srv.stop();
  });

  it('429 rate_limited + Retry-After once an account has used its burst', async () => {
    assertAdmin(await adminToken(srv, { email: 'root@example.com', password: 'Wrong-password-1' }), 401, 'invalid_credentials');
    assertAdmin(await adminToken(srv, { email: 'root@example.com', password: 'Wrong-password-2' }), 401, 'invalid_credentials');
    const r = await adminToken(srv, { email: 'root@example.com', password: P });
    assertAdmin(r, 429, 'rate_limited');
    assert.match(r.headers['retry-after'], /^[1-9][0-9]*$/);
  });
});
