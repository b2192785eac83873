// 429 (failed-login lock), 503 (hashing queue full, store unavailable) and
// the health check.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { spawn } from 'node:child_process';
import {
  startServer, newDb, newSqliteDb, sqliteOnly, mkTenant, mkUser, http, login, loginOk, me, refresh, pw, assertError, sleep, IS_ASAN,
} from '../lib/server.js';

const LOCK_AFTER = 3;
const LOCK_SECS = 2;

describe('login rate limits', { timeout: 60000 }, () => {
  it('per account: the burst is answered, then 429 rate_limited with Retry-After; other accounts unaffected', async () => {
    const db = newDb();
    const P = { ana: pw(), bo: pw() };
    await mkTenant(db, 'acme');
    await mkUser(db, 'acme', 'ana@example.com', P.ana);
    await mkUser(db, 'acme', 'bo@example.com', P.bo);
    const srv = await startServer({ db, rateLimits: false, args: ['--default-tenant', 'acme', '--rl-account-burst', '3', '--rl-account-per-min', '6'] });
    try {
      assertError(await login(srv, 'ana@example.com', 'wrong-password-1'), 401, 'invalid_credentials');
      assertError(await login(srv, 'ANA@example.com', 'wrong-password-2'), 401, 'invalid_credentials');
      // a correct password gives its attempt back (issue 7: successes do not count)
      await loginOk(srv, 'ana@example.com', P.ana);
      await loginOk(srv, 'ana@example.com', P.ana);
      assertError(await login(srv, 'ana@example.com', 'wrong-password-3'), 401, 'invalid_credentials');
      const r = await login(srv, 'ana@example.com', P.ana);
      assertError(r, 429, 'rate_limited');
      const ra = Number(r.headers['retry-after']);
      assert.ok(ra >= 1 && ra <= 10, `Retry-After ${r.headers['retry-after']} (one attempt per 10 s)`);
      assert.equal(r.json.token, undefined);
      await loginOk(srv, 'bo@example.com', P.bo);
      // the same sequence against an unknown email and an unknown tenant
      const seq = async (email, slug) => {
        const out = [];
        for (let i = 0; i < 4; i++) {
          const x = await login(srv, email, `wrong-password-${i}`, slug ? { tenant_slug: slug } : {});
          out.push(`${x.status} ${x.json && x.json.code}`);
        }
        return out.join(', ');
      };
      const want = '401 invalid_credentials, 401 invalid_credentials, 401 invalid_credentials, 429 rate_limited';
      assert.equal(await seq('bo@example.com'), want, 'bo\'s good login did not count');
      assert.equal(await seq('ghost@example.com'), want, 'an unknown email is limited like a real one');
      assert.equal(await seq('ana@example.com', 'no-such-tenant'), want, 'an unknown tenant is limited like a real one');
    } finally {
      await srv.stop();
    }
  });

  it('per client address: 429 after the burst; X-Forwarded-For counts only from a trusted proxy', async () => {
    const db = newDb();
    await mkTenant(db, 'acme');
    const common = ['--default-tenant', 'acme', '--rl-ip-burst', '3', '--rl-ip-per-min', '60', '--rl-account-burst', '1000'];
    let srv = await startServer({ db, rateLimits: false, args: common });
    try {
      for (let i = 0; i < 3; i++) assertError(await login(srv, `u${i}@example.com`, 'wrong-password-1', {}, { headers: { 'X-Forwarded-For': `10.9.0.${i}` } }), 401, 'invalid_credentials');
      const r = await login(srv, 'u9@example.com', 'wrong-password-1', {}, { headers: { 'X-Forwarded-For': '10.9.0.99' } });
      assertError(r, 429, 'rate_limited');
      assert.ok(Number(r.headers['retry-after']) >= 1);
      assert.equal((await http('GET', srv.url + '/healthz')).status, 200, 'only logins are limited');
    } finally {
      await srv.stop();
    }
    srv = await startServer({ db, rateLimits: false, args: [...common, '--trusted-proxies', '127.0.0.1'] });
    try {
      for (let i = 0; i < 3; i++) assertError(await login(srv, `v${i}@example.com`, 'wrong-password-1', {}, { headers: { 'X-Forwarded-For': '10.9.1.1' } }), 401, 'invalid_credentials');
      assertError(await login(srv, 'v9@example.com', 'wrong-password-1', {}, { headers: { 'X-Forwarded-For': '10.9.1.1' } }), 429, 'rate_limited');
      assertError(await login(srv, 'v9@example.com', 'wrong-password-1', {}, { headers: { 'X-Forwarded-For': '10.9.1.2' } }), 401, 'invalid_credentials');
    } finally {
      await srv.stop();
    }
  });
});

describe('failed-login lock', { timeout: 60000 }, () => {
  let srv;
  const db = newDb();
  const P = { lola: pw(), other: pw() };
  before(async () => {
    await mkTenant(db, 'acme');
    await mkUser(db, 'acme', 'lola@example.com', P.lola);
    await mkUser(db, 'acme', 'other@example.com', P.other);
    srv = await startServer({ db, args: ['--default-tenant', 'acme', '--lock-after', String(LOCK_AFTER), '--lock-secs', String(LOCK_SECS)] });
  });
  after(async () => {
    if (srv) await srv.stop();
  });

  it(`after ${LOCK_AFTER} failures: 429 rate_limited with Retry-After, even for the right password; others unaffected; lifted after --lock-secs`, async () => {
    const seen = [];
    for (let i = 0; i < LOCK_AFTER; i++) {
      const r = await login(srv, 'lola@example.com', `wrong-password-${i}`);
      seen.push(r.status);
      assertError(r, 401, 'invalid_credentials');
    }
    const locked = await login(srv, 'lola@example.com', P.lola);
    assertError(locked, 429, 'rate_limited');
    const ra = Number(locked.headers['retry-after']);
    assert.ok(ra >= 1 && ra <= LOCK_SECS + 1, `Retry-After ${locked.headers['retry-after']} for a lock of ${LOCK_SECS} s`);
    assert.equal(locked.json.token, undefined);
    const wrong = await login(srv, 'lola@example.com', 'wrong-password-x');
    assertError(wrong, 429, 'rate_limited');
    await loginOk(srv, 'other@example.com', P.other);
    await sleep((LOCK_SECS + 1) * 1000 + 200);
    await loginOk(srv, 'lola@example.com', P.lola);
    // a success resets the count
    for (let i = 0; i < LOCK_AFTER - 1; i++) assertError(await login(srv, 'lola@example.com', `wrong-password-${i}`), 401, 'invalid_credentials');
    await loginOk(srv, 'lola@example.com', P.lola);
  });

  it('the lock does not reveal whether a tenant or an account exists', async () => {
    // the same number of failures against an unknown tenant and an unknown
    // email must lead to the same answers as against a real account
    const seq = async (email, slug) => {
      const out = [];
      for (let i = 0; i <= LOCK_AFTER; i++) {
        const r = await login(srv, email, `wrong-password-${i}`, slug ? { tenant_slug: slug } : {});
        out.push(`${r.status} ${r.json && r.json.code}`);
      }
      return out.join(', ');
    };
    const real = await seq('other@example.com');
    const noUser = await seq('ghost@example.com');
    const noTenant = await seq('other@example.com', 'no-such-tenant');
    assert.equal(noUser, real, 'unknown email vs real account');
    assert.equal(noTenant, real, 'unknown tenant vs real account');
  });
});

describe('overload', { timeout: 60000 }, () => {
  let srv;
  const db = newDb();
  const P = pw();
  before(async () => {
    await mkTenant(db, 'acme');
    await mkUser(db, 'acme', 'busy@example.com', P);
    srv = await startServer({
      db,
      cost: false,
      args: ['--default-tenant', 'acme', '--hash-workers', '1', '--hash-queue', '1', '--pw-opslimit', '3', '--pw-memlimit-kib', '32768'],
    });
  });
  after(async () => {
    if (srv) await srv.stop();
  });

  it('unknown email and unknown tenant cost the same hashing time as a wrong password', async () => {
    await loginOk(srv, 'busy@example.com', P); // upgrades the hash to the server cost
    const time = async (email, slug) => {
      const ts = [];
      for (let i = 0; i < 5; i++) {
        const t0 = process.hrtime.bigint();
        const r = await login(srv, email, 'wrong-password-t', slug ? { tenant_slug: slug } : {});
        ts.push(Number(process.hrtime.bigint() - t0) / 1e6);
        assertError(r, 401, 'invalid_credentials');
      }
      ts.sort((x, y) => x - y);
      return ts[2];
    };
    const known = await time('busy@example.com');
    const unknown = await time('nobody@example.com');
    const noTenant = await time('busy@example.com', 'no-such-tenant');
    const msg = `median ms: known ${known.toFixed(1)}, unknown email ${unknown.toFixed(1)}, unknown tenant ${noTenant.toFixed(1)}`;
    assert.ok(unknown > known / 3 && unknown < known * 3, msg);
    assert.ok(noTenant > known / 3 && noTenant < known * 3, msg);
  });

  it('503 overloaded with Retry-After when every hashing worker is busy and the queue is full', async () => {
    await loginOk(srv, 'busy@example.com', P); // upgrades the hash to the server cost
    const rs = await Promise.all(Array.from({ length: 24 }, () => login(srv, 'busy@example.com', P)));
    const by = {};
    for (const r of rs) by[r.status] = (by[r.status] ?? 0) + 1;
    assert.ok(by[503] >= 1, `statuses: ${JSON.stringify(by)}`);
    assert.ok(by[200] >= 1, `statuses: ${JSON.stringify(by)}`);
    assert.equal((by[200] ?? 0) + by[503], rs.length, `only 200 and 503: ${JSON.stringify(by)}`);
    for (const r of rs.filter((x) => x.status === 503)) {
      assertError(r, 503, 'overloaded');
      assert.ok(Number(r.headers['retry-after']) >= 1);
    }
    await loginOk(srv, 'busy@example.com', P);
  });
});

describe('store unavailable [SQLite only: file permissions and a lock held by the sqlite3 CLI]', sqliteOnly('file permissions and a lock held by the sqlite3 CLI', { timeout: 60000 }), () => {
  let srv;
  const db = newSqliteDb();
  const P = pw();
  before(async () => {
    await mkTenant(db, 'acme');
    await mkUser(db, 'acme', 'sto@example.com', P);
    srv = await startServer({ db, dsnOptions: '?busy_timeout=300', args: ['--default-tenant', 'acme'] });
  });
  after(async () => {
    if (srv) {
      fs.chmodSync(db, 0o644);
      await srv.stop();
    }
  });

  it('healthz is 200 while the store is fine', async () => {
    const r = await http('GET', srv.url + '/healthz');
    assert.equal(r.status, 200);
    assert.equal(r.json.status, 'ok');
  });

  it('a database file without permissions: readyz 503 (healthz, a liveness check, stays 200), login and me 503 store_unavailable; all recover', async () => {
    const a = await loginOk(srv, 'sto@example.com', P);
    fs.chmodSync(db, 0o000);
    await sleep(150); // the file is checked at most every 100 ms (issue 13: stat_ms)
    try {
      const h = await http('GET', srv.url + '/readyz');
      assert.equal(h.status, 503, h.text);
      assert.equal(h.json.code, 'store_unavailable');
      assert.match(h.headers['retry-after'], /^[1-9][0-9]*$/);
      assert.equal((await http('GET', srv.url + '/healthz')).status, 200, 'liveness does not depend on the store');
      const l = await login(srv, 'sto@example.com', P);
      assertError(l, 503, 'store_unavailable');
      assert.ok(Number(l.headers['retry-after']) >= 1);
      const m = await me(srv, a.token);
      assertError(m, 503, 'store_unavailable');
      assertError(await refresh(srv, a.refresh_token), 503, 'store_unavailable');
    } finally {
      fs.chmodSync(db, 0o644);
    }
    assert.equal((await http('GET', srv.url + '/readyz')).status, 200);
    assert.equal((await me(srv, a.token)).status, 200);
    assert.equal((await refresh(srv, a.refresh_token)).status, 200, 'the refresh token was not spent by the failed try');
  });

  it('a database locked by another process: login 503 store_unavailable within the busy timeout, no hang', async () => {
    const locker = spawn('sqlite3', [db], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    locker.stdout.on('data', (d) => (out += d));
    locker.stdin.write('BEGIN IMMEDIATE;\nINSERT INTO tenants SELECT * FROM tenants WHERE 0;\nSELECT \'locked\';\n');
    try {
      for (let i = 0; i < 100 && !out.includes('locked'); i++) await sleep(20);
      assert.ok(out.includes('locked'), 'the sqlite3 process took the write lock');
      const t0 = Date.now();
      const l = await login(srv, 'sto@example.com', P);
      assertError(l, 503, 'store_unavailable');
      assert.ok(Date.now() - t0 < (IS_ASAN ? 10000 : 5000), `answered in ${Date.now() - t0} ms`);
    } finally {
      locker.stdin.end('ROLLBACK;\n');
      await new Promise((r) => locker.on('close', r));
    }
    await loginOk(srv, 'sto@example.com', P);
  });
});
