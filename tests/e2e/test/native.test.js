// Login, tenant resolution, input validation, me, logout, JWKS, health and
// the served OpenAPI document, all on one server.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import * as jose from 'jose';
import {
  startServer, newDb, mkTenant, mkUser, http, login, loginOk, me, refresh, pw, rnd,
  decodeJwt, assertError, ISSUER, UUID_RE, secrets, leakedSecrets, noteSecret,
} from '../lib/server.js';
import { docText, DOC_PATH } from '../lib/openapi.js';

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

describe('native API', { timeout: 120000 }, () => {
  let srv;
  let jwks;
  const db = newDb();
  const P = {};
  const ids = {};

  before(async () => {
    ids.acme = await mkTenant(db, 'acme', { domains: ['acme.test', 'login.acme.test'] });
    ids.globex = await mkTenant(db, 'globex', { domains: ['globex.test'] });
    P.alice = pw();
    P.aliceG = pw();
    P.bob = pw();
    P.user = pw();
    P.carol = pw();
    P.dan = pw();
    P.eve = pw();
    ids.alice = await mkUser(db, 'acme', 'alice@example.com', P.alice, { admin: true });
    ids.aliceG = await mkUser(db, 'globex', 'alice@example.com', P.aliceG);
    ids.bob = await mkUser(db, 'acme', 'bob@example.com', P.bob, { verified: false });
    ids.user = await mkUser(db, 'acme', 'user@example.com', P.user);
    ids.carol = await mkUser(db, 'globex', 'carol@globex.test', P.carol);
    ids.dan = await mkUser(db, 'acme', 'dan@example.com', P.dan);
    ids.eve = await mkUser(db, 'acme', 'eve@example.com', P.eve);
    srv = await startServer({ db, args: ['--default-tenant', 'acme'] });
    jwks = jose.createRemoteJWKSet(new URL(srv.url + '/.well-known/jwks.json'));
  });

  after(async () => {
    if (srv) await srv.stop();
  });

  describe('meta', () => {
    it('GET /healthz is 200 {status:"ok"}', async () => {
      const r = await http('GET', srv.url + '/healthz');
      assert.equal(r.status, 200);
      assert.equal(r.json.status, 'ok');
    });

    it('GET /openapi.json serves docs/openapi/native.json', async () => {
      const r = await http('GET', srv.url + '/openapi.json');
      assert.equal(r.status, 200);
      assert.deepEqual(r.json, JSON.parse(docText), `served document differs from ${DOC_PATH}`);
      assert.equal(r.text.trim(), fs.readFileSync(DOC_PATH, 'utf8').trim(), 'served bytes differ from the file');
    });

    it('GET /.well-known/jwks.json lists an ES256 P-256 public key and no private part', async () => {
      const r = await http('GET', srv.url + '/.well-known/jwks.json');
      assert.equal(r.status, 200);
      assert.ok(r.json.keys.length >= 1);
      const k = r.json.keys[0];
      assert.equal(k.kty, 'EC');
      assert.equal(k.crv, 'P-256');
      assert.equal(k.alg, 'ES256');
      assert.equal(k.use, 'sig');
      assert.equal(k.d, undefined);
      const kids = r.json.keys.map((x) => x.kid);
      assert.equal(new Set(kids).size, kids.length, 'kids are unique');
    });

    it('an unknown path is 404, a known path with another method 404 or 405', async () => {
      const r = await http('GET', srv.url + '/v1/nope', { validate: false });
      assert.equal(r.status, 404);
      assert.match(r.headers['cache-control'] || '', /no-store/);
      const m = await http('GET', srv.url + '/v1/auth/login', { validate: false });
      assert.ok([404, 405].includes(m.status), `${m.status} ${m.text}`);
      const d = await http('DELETE', srv.url + '/v1/auth/me', { validate: false });
      assert.ok([404, 405].includes(d.status), `${d.status} ${d.text}`);
    });
  });

  describe('login', () => {
    it('200 with a full token set whose JWT verifies against the JWKS', async () => {
      const before = Math.floor(Date.now() / 1000);
      const r = await login(srv, 'alice@example.com', P.alice, { tenant_slug: 'acme' });
      assert.equal(r.status, 200, r.text);
      const b = r.json;
      assert.equal(b.token_type, 'Bearer');
      assert.equal(typeof b.refresh_token, 'string');
      assert.ok(b.refresh_token.length >= 32, 'refresh token has enough entropy');
      assert.ok(!b.refresh_token.includes('.'), 'refresh token is opaque, not a JWT');
      assert.equal(b.mfa_required, undefined);

      const { payload, protectedHeader } = await jose.jwtVerify(b.token, jwks, { issuer: ISSUER, audience: 'tessera' });
      assert.equal(protectedHeader.alg, 'ES256');
      assert.equal(typeof protectedHeader.kid, 'string');
      for (const c of ['iss', 'sub', 'aud', 'tid', 'sid', 'iat', 'exp', 'jti']) assert.ok(payload[c] !== undefined, `claim ${c} missing`);
      assert.equal(payload.sub, ids.alice);
      assert.equal(payload.tid, ids.acme);
      assert.match(payload.sid, UUID_RE);
      assert.equal(payload.scope, 'full');
      assert.ok(Array.isArray(payload.amr) && payload.amr.includes('pwd'), `amr: ${JSON.stringify(payload.amr)}`);
      assert.ok(payload.iat >= before - 5 && payload.iat <= Math.ceil(Date.now() / 1000) + 5, 'iat is now');
      assert.equal(b.expires_in, payload.exp - payload.iat, 'expires_in = exp - iat');
      assert.equal(b.expires_in, 900, 'default access TTL is 900 s');
      assert.match(b.expires_at, ISO);
      assert.equal(Math.floor(Date.parse(b.expires_at) / 1000), payload.exp, 'expires_at = exp');

      const u = b.user;
      assert.equal(u.id, ids.alice);
      assert.equal(u.email, 'alice@example.com');
      assert.equal(u.is_verified, true);
      assert.equal(u.is_admin, true);
      assert.equal(u.tenant, 'acme');
      assert.match(u.created_at, ISO);
      assert.ok(Math.abs(Date.parse(u.created_at) - Date.now()) < 10 * 60 * 1000, 'created_at is recent');
    });

    it('each login has its own session, jti and refresh token', async () => {
      const a = await loginOk(srv, 'dan@example.com', P.dan);
      const b = await loginOk(srv, 'dan@example.com', P.dan);
      const pa = decodeJwt(a.token).payload;
      const pb = decodeJwt(b.token).payload;
      assert.notEqual(pa.sid, pb.sid);
      assert.notEqual(pa.jti, pb.jti);
      assert.notEqual(a.refresh_token, b.refresh_token);
      assert.equal(a.user.is_admin, false);
    });

    it('401 wrong password, unknown email and unknown tenant give byte-identical bodies', async () => {
      const wrong = await login(srv, 'alice@example.com', 'wrong-password-1', { tenant_slug: 'acme' });
      const unknown = await login(srv, 'nobody@example.com', 'wrong-password-1', { tenant_slug: 'acme' });
      const noTenant = await login(srv, 'alice@example.com', P.alice, { tenant_slug: 'no-such-tenant' });
      const otherTenantPw = await login(srv, 'alice@example.com', P.alice, { tenant_slug: 'globex' });
      for (const r of [wrong, unknown, noTenant, otherTenantPw]) assertError(r, 401, 'invalid_credentials');
      assert.equal(unknown.text, wrong.text);
      assert.equal(noTenant.text, wrong.text);
      assert.equal(otherTenantPw.text, wrong.text);
      assert.equal(wrong.json.token, undefined);
    });

    it('403 email_not_verified for a correct password of an unverified user, with no token', async () => {
      const r = await login(srv, 'bob@example.com', P.bob);
      assertError(r, 403, 'email_not_verified');
      assert.equal(r.json.token, undefined);
      assert.equal(r.json.refresh_token, undefined);
      assert.ok(!r.text.includes('eyJ'), 'no JWT anywhere in the body');
    });

    it('an unverified user with a wrong password gets the plain 401', async () => {
      const r = await login(srv, 'bob@example.com', 'not-bobs-password');
      assertError(r, 401, 'invalid_credentials');
    });

    it('email is matched case-insensitively', async () => {
      const b = await loginOk(srv, 'USER@Example.COM', P.user);
      assert.equal(b.user.id, ids.user);
      assert.equal(b.user.email, 'user@example.com');
    });

    it('unknown fields are ignored', async () => {
      const r = await login(srv, 'dan@example.com', P.dan, { remember_me: true, extra: { a: [1, 2, { b: null }] }, n: 1.5 });
      assert.equal(r.status, 200, r.text);
    });

    it('a password of exactly 1024 bytes is checked (401), not refused as malformed', async () => {
      const r = await login(srv, 'dan@example.com', 'é'.repeat(512));
      assertError(r, 401, 'invalid_credentials');
    });

    describe('400 invalid_request', () => {
      const email = 'dan@example.com';
      const good = () => P.dan;
      const cases = [
        ['a body that is not JSON', () => ({ body: 'email=dan@example.com&password=x' })],
        ['an empty body', () => ({ body: '' })],
        ['a JSON array', () => ({ body: JSON.stringify([{ email, password: good() }]) })],
        ['a JSON string', () => ({ body: '"hello"' })],
        ['JSON null', () => ({ body: 'null' })],
        ['truncated JSON', () => ({ body: `{"email":"${email}","password":"x"` })],
        ['trailing garbage after the object', () => ({ body: `{"email":"${email}","password":"${good()}"} x` })],
        ['a missing email', () => ({ json: { password: good() } }), 'email'],
        ['a missing password', () => ({ json: { email } }), 'password'],
        ['an email that is not a string', () => ({ json: { email: 5, password: good() } }), 'email'],
        ['an email that is null', () => ({ json: { email: null, password: good() } }), 'email'],
        ['a password that is not a string', () => ({ json: { email, password: ['x'] } }), 'password'],
        ['a tenant_slug that is not a string', () => ({ json: { email, password: good(), tenant_slug: 7 } }), 'tenant_slug'],
        ['an invalid email', () => ({ json: { email: 'not-an-email', password: good() } }), 'email'],
        ['an email with two @', () => ({ json: { email: 'a@b@example.com', password: good() } }), 'email'],
        ['an empty email', () => ({ json: { email: '', password: good() } }), 'email'],
        ['an empty password', () => ({ json: { email, password: '' } }), 'password'],
        ['a password of 1025 bytes', () => ({ json: { email, password: 'a'.repeat(1025) } }), 'password'],
        ['a password of 513 two-byte characters (1026 bytes)', () => ({ json: { email, password: 'é'.repeat(513) } }), 'password'],
        ['a body over 16 KiB', () => ({ json: { email, password: good(), pad: 'x'.repeat(17 * 1024) } })],
        ['nesting depth 100', () => ({ body: `{"email":"${email}","password":"${good()}","x":${'['.repeat(99)}${']'.repeat(99)}}` })],
        ['nesting depth 33', () => ({ body: `{"email":"${email}","password":"${good()}","x":${'{"a":'.repeat(32)}1${'}'.repeat(32)}}` })],
        ['duplicate keys', () => ({ body: `{"email":"${email}","password":"${good()}","email":"eve@example.com"}` })],
        ['invalid UTF-8 bytes', () => ({ body: Buffer.concat([Buffer.from(`{"email":"${email}","password":"`), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"}')]) })],
        ['an overlong UTF-8 encoding', () => ({ body: Buffer.concat([Buffer.from(`{"email":"${email}","password":"a`), Buffer.from([0xc0, 0xaf]), Buffer.from('"}')]) })],
        ['a lone surrogate escape', () => ({ body: `{"email":"${email}","password":"a\\ud800b"}` })],
        ['"\\u0000" in a string', () => ({ body: `{"email":"${email}","password":"ab\\u0000cd"}` })],
        ['a raw NUL byte', () => ({ body: Buffer.concat([Buffer.from(`{"email":"${email}","password":"ab`), Buffer.from([0]), Buffer.from('cd"}')]) })],
      ];
      for (const [name, mk, field] of cases) {
        it(name, async () => {
          const r = await http('POST', srv.url + '/v1/auth/login', mk());
          assertError(r, 400, 'invalid_request', field);
          if (r.json.details && r.json.details.field !== undefined) assert.equal(typeof r.json.details.field, 'string');
          assert.equal(r.json.token, undefined);
        });
      }

      it('nesting depth 32 in an unknown field is accepted', async () => {
        const r = await http('POST', srv.url + '/v1/auth/login', {
          body: `{"email":"dan@example.com","password":${JSON.stringify(P.dan)},"x":${'{"a":'.repeat(31)}1${'}'.repeat(31)}}`,
        });
        assert.equal(r.status, 200, r.text);
      });

      it('the refresh endpoint refuses malformed input the same way', async () => {
        const r1 = await http('POST', srv.url + '/v1/auth/refresh', { body: '[]' });
        assertError(r1, 400, 'invalid_request');
        const r2 = await http('POST', srv.url + '/v1/auth/refresh', { json: {} });
        assertError(r2, 400, 'invalid_request', 'refresh_token');
        const r3 = await http('POST', srv.url + '/v1/auth/refresh', { json: { refresh_token: 12 } });
        assertError(r3, 400, 'invalid_request', 'refresh_token');
      });

      it('the server still answers after all of that', async () => {
        await loginOk(srv, 'dan@example.com', P.dan);
      });
    });
  });

  describe('tenant resolution', () => {
    it('tenant_slug selects the tenant (same email, different tenants)', async () => {
      const a = await loginOk(srv, 'alice@example.com', P.alice, { tenant_slug: 'acme' });
      const g = await loginOk(srv, 'alice@example.com', P.aliceG, { tenant_slug: 'globex' });
      assert.equal(a.user.id, ids.alice);
      assert.equal(g.user.id, ids.aliceG);
      assert.equal(g.user.tenant, 'globex');
      assert.equal(decodeJwt(g.token).payload.tid, ids.globex);
    });

    it('the Host header selects the tenant by domain', async () => {
      const r = await login(srv, 'carol@globex.test', P.carol, {}, { headers: { host: 'globex.test' } });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.user.tenant, 'globex');
      const g = await login(srv, 'alice@example.com', P.aliceG, {}, { headers: { host: 'GLOBEX.test:8443' } });
      assert.equal(g.status, 200, `host with a port and upper case: ${g.text}`);
      assert.equal(g.json.user.id, ids.aliceG);
      const a = await login(srv, 'alice@example.com', P.alice, {}, { headers: { host: 'login.acme.test' } });
      assert.equal(a.status, 200, `second domain of a tenant: ${a.text}`);
      assert.equal(a.json.user.id, ids.alice);
    });

    it('a tenant_slug naming another tenant than the Host is 400 tenant_conflict (issue 7: one decision per request)', async () => {
      const r = await login(srv, 'alice@example.com', P.alice, { tenant_slug: 'acme' }, { headers: { host: 'globex.test' } });
      assertError(r, 400, 'tenant_conflict');
      const same = await login(srv, 'alice@example.com', P.alice, { tenant_slug: 'acme' }, { headers: { host: 'acme.test' } });
      assert.equal(same.status, 200, same.text);
      assert.equal(same.json.user.id, ids.alice);
    });

    it('with neither, the --default-tenant is used', async () => {
      const r = await login(srv, 'alice@example.com', P.alice);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.user.id, ids.alice);
      const c = await login(srv, 'carol@globex.test', P.carol);
      assertError(c, 401, 'invalid_credentials');
    });

    it('an unknown Host falls back to the default tenant', async () => {
      const r = await login(srv, 'alice@example.com', P.alice, {}, { headers: { host: 'unknown.example' } });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.user.tenant, 'acme');
    });
  });

  describe('me', () => {
    let tok;
    let loginUser;
    before(async () => {
      const b = await loginOk(srv, 'eve@example.com', P.eve);
      tok = b.token;
      loginUser = b.user;
    });

    it('200 with the user of the token', async () => {
      const r = await me(srv, tok);
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json.user, loginUser);
    });

    it('200 when the request names the token tenant (Host or X-Tenant-Slug)', async () => {
      assert.equal((await me(srv, tok, { host: 'acme.test' })).status, 200);
      assert.equal((await me(srv, tok, { 'X-Tenant-Slug': 'acme' })).status, 200);
    });

    const bad = async (r, code) => {
      assertError(r, 401, code);
      assert.match(r.headers['www-authenticate'] || '', /^Bearer/);
    };

    it('401 without an Authorization header', async () => {
      await bad(await http('GET', srv.url + '/v1/auth/me'), 'invalid_token');
    });

    it('401 for another scheme, an empty token and garbage', async () => {
      await bad(await http('GET', srv.url + '/v1/auth/me', { headers: { Authorization: 'Basic ' + Buffer.from('eve:x').toString('base64') } }), 'invalid_token');
      await bad(await http('GET', srv.url + '/v1/auth/me', { headers: { Authorization: 'Bearer ' } }), 'invalid_token');
      await bad(await me(srv, 'garbage'), 'invalid_token');
      await bad(await me(srv, 'a.b.c'), 'invalid_token');
      await bad(await me(srv, 'x'.repeat(5000)), 'invalid_token');
    });

    it('401 for a token with a flipped signature byte', async () => {
      const [h, p, s] = tok.split('.');
      const sig = Buffer.from(s, 'base64url');
      sig[10] ^= 0x01;
      await bad(await me(srv, `${h}.${p}.${sig.toString('base64url')}`), 'invalid_token');
    });

    it('401 for a token whose payload was changed', async () => {
      const [h, , s] = tok.split('.');
      const { payload } = decodeJwt(tok);
      payload.sub = ids.alice;
      await bad(await me(srv, `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}`), 'invalid_token');
    });

    it('401 for an alg "none" token', async () => {
      const { header, payload } = decodeJwt(tok);
      const enc = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
      await bad(await me(srv, `${enc({ ...header, alg: 'none' })}.${enc(payload)}.`), 'invalid_token');
      await bad(await me(srv, `${enc({ ...header, alg: 'none' })}.${enc(payload)}`), 'invalid_token');
      await bad(await me(srv, `${enc({ ...header, alg: 'HS256' })}.${enc(payload)}.${tok.split('.')[2]}`), 'invalid_token');
    });

    it('401 for a token signed by another key (same kid)', async () => {
      const { header, payload } = decodeJwt(tok);
      const { privateKey } = await jose.generateKeyPair('ES256');
      const forged = await new jose.SignJWT(payload).setProtectedHeader({ alg: 'ES256', kid: header.kid, typ: header.typ }).sign(privateKey);
      await bad(await me(srv, forged), 'invalid_token');
      const { privateKey: ed } = await jose.generateKeyPair('EdDSA', { crv: 'Ed25519' });
      const forged2 = await new jose.SignJWT(payload).setProtectedHeader({ alg: 'EdDSA', kid: header.kid }).sign(ed);
      await bad(await me(srv, forged2), 'invalid_token');
    });

    it('401 tenant_mismatch when the Host names another tenant', async () => {
      await bad(await me(srv, tok, { host: 'globex.test' }), 'tenant_mismatch');
    });

    it('401 tenant_mismatch when X-Tenant-Slug names another tenant', async () => {
      await bad(await me(srv, tok, { 'X-Tenant-Slug': 'globex' }), 'tenant_mismatch');
    });

    it('an opaque px0 access token is accepted too', async () => {
      const r = await http('POST', srv.url + '/px0/v1/auth/login', { json: { email: 'eve@example.com', password: P.eve }, validate: false });
      assert.equal(r.status, 200, r.text);   // the px0 face is always built
      assert.ok(!r.json.token.includes('.'), 'px0 tokens are opaque');
      const m = await me(srv, r.json.token);
      assert.equal(m.status, 200, m.text);
      assert.equal(m.json.user.id, ids.eve);
    });

    it('the token still works afterwards', async () => {
      assert.equal((await me(srv, tok)).status, 200);
    });
  });

  describe('logout', () => {
    it('204, then the access token is refused (session_revoked) and so is the refresh token', async () => {
      const b = await loginOk(srv, 'dan@example.com', P.dan);
      const other = await loginOk(srv, 'dan@example.com', P.dan);
      const r = await http('POST', srv.url + '/v1/auth/logout', { token: b.token });
      assert.equal(r.status, 204, r.text);
      assertError(await me(srv, b.token), 401, 'session_revoked');
      // an ended session is session_revoked, not a reuse (issue 7)
      assertError(await refresh(srv, b.refresh_token), 401, 'session_revoked');
      const again = await http('POST', srv.url + '/v1/auth/logout', { token: b.token });
      assertError(again, 401, 'session_revoked');
      assert.equal((await me(srv, other.token)).status, 200, 'another session of the same user lives on');
    });

    it('401 without a token', async () => {
      assertError(await http('POST', srv.url + '/v1/auth/logout'), 401, 'invalid_token');
    });

    it('401 tenant_mismatch for a token of another tenant', async () => {
      const b = await loginOk(srv, 'carol@globex.test', P.carol, { tenant_slug: 'globex' });
      assertError(await http('POST', srv.url + '/v1/auth/logout', { token: b.token, headers: { host: 'acme.test' } }), 401, 'tenant_mismatch');
      assert.equal((await me(srv, b.token)).status, 200, 'the refused logout revoked nothing');
    });
  });

  describe('headers', () => {
    it('every answer carries Cache-Control: no-store (checked for each response by the harness) and JSON', async () => {
      const r = await login(srv, 'alice@example.com', P.alice);
      assert.match(r.headers['cache-control'], /no-store/);
      assert.match(r.headers['content-type'], /^application\/json/);
      const e = await login(srv, 'alice@example.com', 'nope-nope-nope');
      assert.match(e.headers['cache-control'], /no-store/);
    });
  });

  describe('secrets', () => {
    it('the server never logs a password, access token or refresh token it saw', async () => {
      // the harness noted every password sent and every token received
      assert.ok(secrets.size > 10);
      const leaks = leakedSecrets(srv.out() + srv.err());
      assert.deepEqual(leaks.map((s) => s.slice(0, 20)), []);
      // and it does log requests at all (so the check above means something)
      assert.ok(srv.out().length > 0 || srv.err().length > 0);
    });
  });
});
