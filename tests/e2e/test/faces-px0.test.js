// Contract 003, the px0 login face (POST /px0/v1/auth/login): every
// documented status from a real condition, each response validated against
// docs/openapi/px0.json.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { newDb, sqliteOnly, mkTenant, mkUser, cliOk, http, pw, me, sleep, UUID_RE } from '../lib/server.js';
import {
  startFaceServer, faceHttp, px0Login, assertPx0, enrollTotp, lockDb, sql,
} from '../lib/faces-helpers.js';

// the native API's me, its answer not checked against native.json (that
// is the native suite's job)
const meRaw = (srv, token) => http('GET', srv.url + '/v1/auth/me', { token, validate: false });
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

describe('contract 003: POST /px0/v1/auth/login', { timeout: 120000 }, () => {
  let srv;
  const db = newDb();
  const P = { pia: pw(), adm: pw(), unver: pw(), off: pw(), totp: pw(), gus: pw(), sam: pw() };
  const ids = {};

  before(async () => {
    await mkTenant(db, 'acme', { domains: ['acme.test'] });
    await mkTenant(db, 'globex', { domains: ['globex.test'] });
    await mkTenant(db, 'strict', { domains: ['strict.test'], mfaRequired: true });
    ids.pia = await mkUser(db, 'acme', 'pia@example.com', P.pia);
    ids.adm = await mkUser(db, 'acme', 'adm@example.com', P.adm, { admin: true });
    await mkUser(db, 'acme', 'unver@example.com', P.unver, { verified: false });
    await mkUser(db, 'acme', 'off@example.com', P.off);
    await cliOk(['user', 'disable', '--tenant', 'acme', '--email', 'off@example.com'], { db });
    await mkUser(db, 'acme', 'totp@example.com', P.totp);
    ids.gus = await mkUser(db, 'globex', 'gus@globex.test', P.gus);
    await mkUser(db, 'strict', 'sam@strict.test', P.sam);
    srv = await startFaceServer({ db, defaultTenant: 'acme', dsn: '?busy_timeout=300' });
    await enrollTotp(srv, 'totp@example.com', P.totp);
  });
  after(async () => {
    if (srv) await srv.stop();
  });

  it('200 {token, expires_at, user}: an opaque token good as Bearer on the native API; no refresh token', async () => {
    const t0 = Math.floor(Date.now() / 1000);
    const r = await px0Login(srv, { email: 'pia@example.com', password: P.pia });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(Object.keys(r.json).sort(), ['expires_at', 'token', 'user']);
    assert.match(r.json.token, UUID_RE);
    assert.match(r.json.expires_at, ISO);
    const exp = Date.parse(r.json.expires_at) / 1000;
    assert.ok(exp >= t0 + 890 && exp <= t0 + 902, `expires_at ${r.json.expires_at}`);
    assert.deepEqual(Object.keys(r.json.user).sort(), ['created_at', 'email', 'id', 'is_admin', 'is_verified']);
    assert.equal(r.json.user.id, ids.pia);
    assert.equal(r.json.user.email, 'pia@example.com');
    assert.equal(r.json.user.is_verified, true);
    assert.equal(r.json.user.is_admin, false);
    assert.match(r.json.user.created_at, ISO);
    const m = await me(srv, r.json.token);
    assert.equal(m.status, 200, m.text);
    assert.equal(m.json.user.id, ids.pia);
    // a new token per login
    const r2 = await px0Login(srv, { email: 'pia@example.com', password: P.pia });
    assert.notEqual(r2.json.token, r.json.token);
    const a = await px0Login(srv, { email: 'adm@example.com', password: P.adm });
    assert.equal(a.json.user.is_admin, true);
  });

  it('the token ends with its session: logout through the native API revokes it', async () => {
    const r = await px0Login(srv, { email: 'pia@example.com', password: P.pia });
    const out = await http('POST', srv.url + '/v1/auth/logout', { token: r.json.token });
    assert.equal(out.status, 204, out.text);
    assert.equal((await meRaw(srv, r.json.token)).status, 401);
  });

  it('unknown fields are ignored; the tenant is the Host domain, else the default tenant', async () => {
    assert.equal((await px0Login(srv, { email: 'pia@example.com', password: P.pia, remember: true, tenant_slug: 'globex' })).status, 200);
    const g = await px0Login(srv, { email: 'gus@globex.test', password: P.gus }, { headers: { Host: 'globex.test' } });
    assert.equal(g.status, 200, g.text);
    assert.equal(g.json.user.id, ids.gus);
    assertPx0(await px0Login(srv, { email: 'gus@globex.test', password: P.gus }), 401, 'invalid credentials');
  });

  it('400 {error:"invalid request body"} for every malformed request', async () => {
    const cases = [
      ['no body', { body: undefined }],
      ['empty body', { body: '' }],
      ['not JSON', { body: '{email: a}' }],
      ['a JSON array', { body: '[{"email":"pia@example.com"}]' }],
      ['null', { body: 'null' }],
      ['invalid UTF-8', { body: Buffer.from([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x3a, 0x31, 0x7d]) }],
      ['a NUL escape', { body: '{"email":"pia@example.com\\u0000","password":"x"}' }],
      ['duplicate keys', { body: `{"email":"pia@example.com","password":"x","password":"${P.pia}"}` }],
      ['nested 40 deep', { body: `{"email":"pia@example.com","password":"x","z":${'{"a":'.repeat(40)}1${'}'.repeat(40)}}` }],
      ['over 16 KiB', { body: JSON.stringify({ email: 'pia@example.com', password: P.pia, pad: 'p'.repeat(17 * 1024) }) }],
      ['email missing', { json: { password: P.pia } }],
      ['password missing', { json: { email: 'pia@example.com' } }],
      ['email a number', { json: { email: 1, password: P.pia } }],
      ['password a number', { json: { email: 'pia@example.com', password: 12345678 } }],
      ['email not an address', { json: { email: 'pia.example.com', password: P.pia } }],
      ['password empty', { json: { email: 'pia@example.com', password: '' } }],
      ['password over 1024 bytes', { json: { email: 'pia@example.com', password: 'x'.repeat(1025) } }],
    ];
    for (const [what, opts] of cases) {
      const r = await faceHttp(srv, 'px0', 'POST', '/v1/auth/login', opts);
      assert.equal(r.status, 400, `${what}: ${r.status} ${r.text}`);
      assertPx0(r, 400, 'invalid request body');
    }
  });

  it('401 {error:"invalid credentials"}: unknown email, wrong password and a disabled account look the same', async () => {
    const wrong = await px0Login(srv, { email: 'pia@example.com', password: 'Wrong-password-1' });
    const unknown = await px0Login(srv, { email: 'nobody@example.com', password: 'Wrong-password-1' });
    const disabled = await px0Login(srv, { email: 'off@example.com', password: P.off });
    for (const r of [wrong, unknown, disabled]) assertPx0(r, 401, 'invalid credentials');
    assert.equal(unknown.text, wrong.text);
    assert.equal(disabled.text, wrong.text);
  });

  it('403 after a correct password: user is not verified; multi-factor authentication required', async () => {
    assertPx0(await px0Login(srv, { email: 'unver@example.com', password: P.unver }), 403, 'user is not verified');
    assertPx0(await px0Login(srv, { email: 'unver@example.com', password: 'Wrong-password-1' }), 401, 'invalid credentials');
    assertPx0(await px0Login(srv, { email: 'totp@example.com', password: P.totp }), 403, 'multi-factor authentication required');
    assertPx0(await px0Login(srv, { email: 'sam@strict.test', password: P.sam }, { headers: { Host: 'strict.test' } }), 403, 'multi-factor authentication required');
    assertPx0(await px0Login(srv, { email: 'totp@example.com', password: 'Wrong-password-1' }), 401, 'invalid credentials');
  });

  it('500 {error:"internal error"} when the store fails (a damaged schema: no sessions table) [SQLite only: a schema sabotaged with the sqlite3 CLI]', sqliteOnly('a schema sabotaged with the sqlite3 CLI'), async () => {
    sql(db, 'ALTER TABLE sessions RENAME TO sessions_gone;');
    try {
      assertPx0(await px0Login(srv, { email: 'pia@example.com', password: P.pia }), 500, 'internal error');
    } finally {
      sql(db, 'ALTER TABLE sessions_gone RENAME TO sessions;');
    }
    assert.equal((await px0Login(srv, { email: 'pia@example.com', password: P.pia })).status, 200);
  });

  it('503 {error:"service unavailable"} + Retry-After while another process holds the database locked [SQLite only: a lock held by the sqlite3 CLI]', sqliteOnly('a lock held by the sqlite3 CLI'), async () => {
    const lock = await lockDb(db);
    let r;
    try {
      r = await px0Login(srv, { email: 'pia@example.com', password: P.pia });
    } finally {
      await lock.release();
    }
    assertPx0(r, 503, 'service unavailable');
    assert.match(r.headers['retry-after'], /^[1-9][0-9]*$/);
  });
});

describe('contract 003: rate limits and token expiry', { timeout: 60000 }, () => {
  let srv;
  const db = newDb();
  const P = pw();
  before(async () => {
    await mkTenant(db, 'acme');
    await mkUser(db, 'acme', 'pia@example.com', P);
    srv = await startFaceServer({ db, defaultTenant: 'acme', limits: true, args: ['--rl-account-burst', '2', '--access-ttl', '2'] });
  });
  after(async () => {
    if (srv) await srv.stop();
  });

  it('the token stops working at expires_at', async () => {
    const r = await px0Login(srv, { email: 'pia@example.com', password: P });
    assert.equal(r.status, 200, r.text);
    assert.equal((await me(srv, r.json.token)).status, 200);
    await sleep(Math.max(0, Date.parse(r.json.expires_at) - Date.now()) + 1200);
    assert.equal((await meRaw(srv, r.json.token)).status, 401);
  });

  it('429 {error:"too many requests"} + Retry-After once an account has used its burst', async () => {
    // the good login above gave its attempt back (issue 7: only failures count)
    assertPx0(await px0Login(srv, { email: 'pia@example.com', password: 'Wrong-password-1' }), 401, 'invalid credentials');
    assertPx0(await px0Login(srv, { email: 'pia@example.com', password: 'Wrong-password-2' }), 401, 'invalid credentials');
    const r = await px0Login(srv, { email: 'pia@example.com', password: P });
    assertPx0(r, 429, 'too many requests');
    assert.match(r.headers['retry-after'], /^[1-9][0-9]*$/);
  });
});
