// Refresh rotation and reuse, persistence across restarts, expiry, signing
// key rotation and EdDSA.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as jose from 'jose';
import {
  startServer, newDb, mkTenant, mkUser, cliOk, http, loginOk, me, refresh, pw,
  decodeJwt, assertError, ISSUER, sleep,
} from '../lib/server.js';

describe('refresh tokens', { timeout: 120000 }, () => {
  let srv;
  const db = newDb();
  const P = pw();
  before(async () => {
    await mkTenant(db, 'acme');
    await mkUser(db, 'acme', 'rita@example.com', P);
    srv = await startServer({ db, args: ['--default-tenant', 'acme', '--refresh-reuse-interval', '0'] });
  });
  after(async () => {
    if (srv) await srv.stop();
  });

  it('rotation: the new refresh token works, the old one gets 401', async () => {
    const a = await loginOk(srv, 'rita@example.com', P);
    const r1 = await refresh(srv, a.refresh_token);
    assert.equal(r1.status, 200, r1.text);
    const b = r1.json;
    assert.notEqual(b.refresh_token, a.refresh_token);
    assert.notEqual(b.token, a.token);
    assert.equal(b.user.email, 'rita@example.com');
    assert.equal(decodeJwt(b.token).payload.sid, decodeJwt(a.token).payload.sid, 'same session');
    assert.notEqual(decodeJwt(b.token).payload.jti, decodeJwt(a.token).payload.jti);
    const jwks = jose.createRemoteJWKSet(new URL(srv.url + '/.well-known/jwks.json'));
    await jose.jwtVerify(b.token, jwks, { issuer: ISSUER, audience: 'tessera' });
    assert.equal((await me(srv, b.token)).status, 200);
    const r2 = await refresh(srv, b.refresh_token);
    assert.equal(r2.status, 200, r2.text);
    const old = await refresh(srv, a.refresh_token);
    assert.equal(old.status, 401, old.text);
  });

  it('401 invalid_token for an unknown refresh token', async () => {
    assertError(await refresh(srv, 'x'.repeat(43)), 401, 'invalid_token');
    assertError(await refresh(srv, 'not-a-token'), 401, 'invalid_token');
  });

  it('an access token is not a refresh token', async () => {
    const a = await loginOk(srv, 'rita@example.com', P);
    assertError(await refresh(srv, a.token), 401, 'invalid_token');
    assert.equal((await refresh(srv, a.refresh_token)).status, 200, 'the failed try did not spend the real one');
  });

  it('reuse of a rotated token: 401 token_reused and the whole session is revoked', async () => {
    const a = await loginOk(srv, 'rita@example.com', P);
    const other = await loginOk(srv, 'rita@example.com', P);
    const b = (await refresh(srv, a.refresh_token)).json;
    assert.ok(b && b.refresh_token);
    assert.equal((await me(srv, b.token)).status, 200);
    assertError(await refresh(srv, a.refresh_token), 401, 'token_reused');
    const nb = await refresh(srv, b.refresh_token);
    assert.equal(nb.status, 401, `the newest refresh token of a revoked session: ${nb.text}`);
    assertError(await me(srv, b.token), 401, 'session_revoked');
    assertError(await me(srv, a.token), 401, 'session_revoked');
    assert.equal((await me(srv, other.token)).status, 200, 'other sessions live on');
    assert.equal((await refresh(srv, other.refresh_token)).status, 200);
  });

  // --refresh-reuse-interval 0: strict rotation (scale-refresh.test.js covers
  // the default interval, where all 20 succeed).
  it('20 concurrent refreshes with one token: exactly one 200', async () => {
    const a = await loginOk(srv, 'rita@example.com', P);
    const rs = await Promise.all(Array.from({ length: 20 }, () => refresh(srv, a.refresh_token)));
    const ok = rs.filter((r) => r.status === 200);
    const statuses = rs.map((r) => r.status).join(',');
    assert.equal(ok.length, 1, `statuses: ${statuses}`);
    for (const r of rs) if (r.status !== 200) assert.equal(r.status, 401, r.text);
  });

  it('after a restart on the same DB a used refresh token is still refused and a fresh one works', async () => {
    const a = await loginOk(srv, 'rita@example.com', P);
    const b = (await refresh(srv, a.refresh_token)).json;
    const c = await loginOk(srv, 'rita@example.com', P);
    await srv.stop();
    srv = await startServer({ db, args: ['--default-tenant', 'acme', '--refresh-reuse-interval', '0'] });
    assert.equal((await me(srv, c.token)).status, 200, 'access token survives a restart (same key)');
    const old = await refresh(srv, a.refresh_token);
    assert.equal(old.status, 401, old.text);
    const fresh = await refresh(srv, c.refresh_token);
    assert.equal(fresh.status, 200, fresh.text);
    // a's session was revoked by the reuse
    assert.equal((await refresh(srv, b.refresh_token)).status, 401);
  });
});

describe('expiry', { timeout: 60000 }, () => {
  let srv;
  const db = newDb();
  const P = pw();
  before(async () => {
    await mkTenant(db, 'acme');
    await mkUser(db, 'acme', 'tim@example.com', P);
    srv = await startServer({ db, args: ['--default-tenant', 'acme', '--access-ttl', '2'] });
  });
  after(async () => {
    if (srv) await srv.stop();
  });

  it('an expired access token is 401 token_expired and its refresh token still works', async () => {
    const old = await loginOk(srv, 'tim@example.com', P);
    const kidOld = decodeJwt(old.token).header.kid;
    const kidNew = await cliOk(['keys', 'rotate', '--key-activation-delay', '0'], { db });
    const a = await loginOk(srv, 'tim@example.com', P);
    assert.equal(decodeJwt(a.token).header.kid, kidNew);
    assert.equal(a.expires_in, 2);
    const { payload } = decodeJwt(a.token);
    assert.equal(payload.exp - payload.iat, 2);
    assert.equal((await me(srv, a.token)).status, 200);
    const k0 = (await http('GET', srv.url + '/.well-known/jwks.json')).json.keys.map((k) => k.kid);
    assert.ok(k0.includes(kidOld) && k0.includes(kidNew), `both keys published: ${k0}`);
    await sleep(3200);
    const r = await me(srv, a.token);
    assertError(r, 401, 'token_expired');
    assert.match(r.headers['www-authenticate'] || '', /^Bearer/);
    assert.equal((await me(srv, old.token)).status, 401);
    const rf = await refresh(srv, a.refresh_token);
    assert.equal(rf.status, 200, rf.text);
    assert.equal((await me(srv, rf.json.token)).status, 200);
  });
});

describe('signing key rotation', { timeout: 60000 }, () => {
  let srv;
  const db = newDb();
  const P = pw();
  before(async () => {
    await mkTenant(db, 'acme');
    await mkUser(db, 'acme', 'kay@example.com', P);
    srv = await startServer({ db, args: ['--default-tenant', 'acme', '--refresh-reuse-interval', '0'] });
  });
  after(async () => {
    if (srv) await srv.stop();
  });

  it('keys rotate while serving: new tokens use the new kid, old tokens stay valid, JWKS lists both', async () => {
    const a = await loginOk(srv, 'kay@example.com', P);
    const kidA = decodeJwt(a.token).header.kid;
    const kid = await cliOk(['keys', 'rotate', '--key-activation-delay', '0'], { db });
    assert.ok(kid.length > 0 && !/\s/.test(kid), `keys rotate printed ${JSON.stringify(kid)}`);
    assert.notEqual(kid, kidA);
    const b = await loginOk(srv, 'kay@example.com', P);
    const kidB = decodeJwt(b.token).header.kid;
    assert.notEqual(kidB, kidA, 'a token after the rotation has a new kid');
    assert.equal(kidB, kid, 'the kid printed by keys rotate signs new tokens');
    const r = await http('GET', srv.url + '/.well-known/jwks.json');
    const kids = r.json.keys.map((k) => k.kid);
    assert.ok(kids.includes(kidA) && kidB && kids.includes(kidB), `JWKS kids ${kids}`);
    const jwks = jose.createRemoteJWKSet(new URL(srv.url + '/.well-known/jwks.json'));
    await jose.jwtVerify(a.token, jwks, { issuer: ISSUER, audience: 'tessera' });
    await jose.jwtVerify(b.token, jwks, { issuer: ISSUER, audience: 'tessera' });
    assert.equal((await me(srv, a.token)).status, 200, 'token A still accepted');
    assert.equal((await me(srv, b.token)).status, 200, 'token B accepted');
    const rf = await refresh(srv, a.refresh_token);
    assert.equal(rf.status, 200);
    assert.equal(decodeJwt(rf.json.token).header.kid, kidB, 'refresh signs with the new key');
  });
});

describe('EdDSA and audience', { timeout: 60000 }, () => {
  let srv;
  const db = newDb();
  const P = pw();
  before(async () => {
    await mkTenant(db, 'acme');
    await mkUser(db, 'acme', 'ed@example.com', P);
    srv = await startServer({ db, args: ['--default-tenant', 'acme', '--jwt-alg', 'EdDSA', '--audience', 'my-api'] });
  });
  after(async () => {
    if (srv) await srv.stop();
  });

  it('tokens are EdDSA (Ed25519) and verify with jose', async () => {
    const a = await loginOk(srv, 'ed@example.com', P);
    const r = await http('GET', srv.url + '/.well-known/jwks.json');
    assert.ok(r.json.keys.some((k) => k.kty === 'OKP' && k.crv === 'Ed25519' && k.alg === 'EdDSA' && k.y === undefined), r.text);
    const jwks = jose.createRemoteJWKSet(new URL(srv.url + '/.well-known/jwks.json'));
    const { protectedHeader, payload } = await jose.jwtVerify(a.token, jwks, { issuer: ISSUER, audience: 'my-api', algorithms: ['EdDSA'] });
    assert.equal(protectedHeader.alg, 'EdDSA');
    assert.equal(payload.aud === 'my-api' || (Array.isArray(payload.aud) && payload.aud.includes('my-api')), true);
    assert.equal((await me(srv, a.token)).status, 200);
  });

  it('a token for another audience is refused (same keys, server restarted with another --audience)', async () => {
    const a = await loginOk(srv, 'ed@example.com', P);
    await srv.stop();
    srv = await startServer({ db, args: ['--default-tenant', 'acme', '--jwt-alg', 'EdDSA', '--audience', 'other-api'] });
    assertError(await me(srv, a.token), 401, 'invalid_token');
    const b = await loginOk(srv, 'ed@example.com', P);
    assert.equal(decodeJwt(b.token).header.kid, decodeJwt(a.token).header.kid, 'same signing key');
    assert.equal((await me(srv, b.token)).status, 200);
  });
});
