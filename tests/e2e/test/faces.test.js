// The three contract faces together: configurable prefixes, the native API
// untouched by them, and 503 with Retry-After on every face when the
// password-hashing pool is full. Face-specific suites: faces-admin,
// faces-iam, faces-px0.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { newDb, mkTenant, mkUser, http, pw } from '../lib/server.js';
import {
  startFaceServer, faceHttp, adminToken, px0Login, iamAuthToken, assertAdmin, assertIam, assertPx0,
  FACES, checkFace,
} from '../lib/faces-helpers.js';

describe('faces: prefixes', { timeout: 60000 }, () => {
  let srv;
  const db = newDb();
  const P = pw();
  before(async () => {
    await mkTenant(db, 'acme');
    await mkUser(db, 'acme', 'root@example.com', P, { admin: true });
    srv = await startFaceServer({
      db, defaultTenant: 'acme',
      args: ['--prefix-admin', '/ops/', '--prefix-iam', '/api/v1', '--prefix-px0', '/p'],
    });
  });
  after(async () => {
    if (srv) await srv.stop();
  });

  it('each face answers under its configured prefix (a trailing slash is dropped)', async () => {
    const body = { email: 'root@example.com', password: P };
    assert.equal((await adminToken(srv, body, { prefix: '/ops' })).status, 200);
    assert.equal((await iamAuthToken(srv, body, { prefix: '/api/v1' })).status, 201);
    assert.equal((await px0Login(srv, body, { prefix: '/p' })).status, 200);
  });

  it('and no longer under the default one', async () => {
    for (const p of ['/admin/auth/token', '/iam/me/auth-tokens', '/iam/me/sessions', '/px0/v1/auth/login']) {
      const r = await http('POST', srv.url + p, { json: { email: 'root@example.com', password: P }, validate: false });
      assert.equal(r.status, 404, `${p}: ${r.status}`);
    }
  });

  it('the native login keeps its own path and answer', async () => {
    const r = await http('POST', srv.url + '/v1/auth/login', { json: { email: 'root@example.com', password: P } });
    assert.equal(r.status, 200, r.text);
    assert.ok(r.json.refresh_token);
  });
});

describe('faces: the documents', () => {
  it('every documented response of every face compiles, and each face has its prefix in servers', () => {
    for (const [name, f] of Object.entries(FACES)) {
      assert.equal(f.spec.openapi, '3.1.0');
      assert.equal(f.spec.servers[0].url, f.prefix, name);
      for (const [p, item] of Object.entries(f.spec.paths)) {
        for (const [m, op] of Object.entries(item)) {
          for (const status of Object.keys(op.responses)) {
            // a fake response of each status: only compilation matters here
            const problems = checkFace(name, m.toUpperCase(), p, { status: Number(status), headers: { 'cache-control': 'no-store', 'content-type': 'application/json' }, text: '{}' });
            assert.ok(Array.isArray(problems), `${name} ${m} ${p} ${status}`);
          }
        }
      }
    }
  });
});

describe('faces: 503 when every hashing worker is busy', { timeout: 120000 }, () => {
  let srv;
  const db = newDb();
  before(async () => {
    await mkTenant(db, 'acme');
    // one worker, one queue slot, and a hash that takes a while
    srv = await startFaceServer({
      db, defaultTenant: 'acme', cost: false,
      args: ['--hash-workers', '1', '--hash-queue', '1', '--pw-opslimit', '3', '--pw-memlimit-kib', '65536'],
    });
  });
  after(async () => {
    if (srv) await srv.stop();
  });

  /** n requests at once; resolves the responses */
  const burst = (n, fn) => Promise.all(Array.from({ length: n }, (_, i) => fn(i)));
  const body = (i) => ({ email: `nobody${i}@example.com`, password: 'Wrong-password-1' });

  it('admin: 503 overloaded + Retry-After; the others 401', async () => {
    const rs = await burst(8, (i) => adminToken(srv, body(i)));
    const busy = rs.filter((r) => r.status === 503);
    assert.ok(busy.length >= 1, rs.map((r) => r.status).join());
    for (const r of busy) {
      assertAdmin(r, 503, 'overloaded');
      assert.match(r.headers['retry-after'], /^[1-9][0-9]*$/);
    }
    for (const r of rs.filter((x) => x.status !== 503)) assertAdmin(r, 401, 'invalid_credentials');
  });

  it('iam: 503 server/0 + Retry-After; the others session/0', async () => {
    const rs = await burst(8, (i) => iamAuthToken(srv, body(i)));
    const busy = rs.filter((r) => r.status === 503);
    assert.ok(busy.length >= 1, rs.map((r) => r.status).join());
    for (const r of busy) assertIam(r, 503, 'server', 0);
    for (const r of rs.filter((x) => x.status !== 503)) assertIam(r, 400, 'session', 0);
  });

  it('px0: 503 {error:"server busy"} + Retry-After; the others 401', async () => {
    const rs = await burst(8, (i) => px0Login(srv, body(i)));
    const busy = rs.filter((r) => r.status === 503);
    assert.ok(busy.length >= 1, rs.map((r) => r.status).join());
    for (const r of busy) assertPx0(r, 503, 'server busy');
    for (const r of rs.filter((x) => x.status !== 503)) assertPx0(r, 401, 'invalid credentials');
  });

  it('the faces validate a body before queueing any hash', async () => {
    const r = await faceHttp(srv, 'iam', 'POST', '/me/auth-tokens', { json: { email: 'x' } });
    assertIam(r, 400, 'request', 0);
  });
});
