// WebAuthn (issue 10): registration of passkeys and security keys, sign-in
// with them as a second factor and passwordless, and the negative suite:
// every bent ceremony is refused with no token and the server lives on.
// The authenticator is software (tests/e2e/lib/authenticator.js).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import {
  startServer, newDb, mkTenant, mkUser, http, login, loginOk, assertError, decodeJwt, UUID_RE, cliOk,
  ISSUER,
} from '../lib/server.js';
import { SoftAuthenticator, ES256, EDDSA, RS256, FLAG, cbor, coseKey } from '../lib/authenticator.js';

const RP = 'localhost';
const ORIGIN = 'http://localhost:8080';
const password = () => 'correct horse battery ' + crypto.randomBytes(6).toString('hex');

const post = (srv, path, json, token) => http('POST', srv.url + path, { json, token });
const regOptions = (srv, token, kind) => post(srv, '/v1/mfa/webauthn/register/options', { kind }, token);
const register = (srv, token, credential, name) =>
  post(srv, '/v1/mfa/webauthn/register', name === undefined ? { credential } : { credential, name }, token);
const passkeyOptions = (srv, body = {}) => post(srv, '/v1/auth/passkey/options', body);
const passkeyLogin = (srv, challenge_id, credential) => post(srv, '/v1/auth/passkey/login', { challenge_id, credential });
const mfaOptions = (srv, challenge_id) => post(srv, '/v1/auth/mfa/webauthn/options', { challenge_id });
const mfaAnswer = (srv, challenge_id, method, credential) =>
  post(srv, '/v1/auth/mfa/challenge', { challenge_id, method, credential });

/** Registers a new credential of auth for the bearer; returns the 201 body. */
async function enrol(srv, token, auth, kind, t = {}, name) {
  const o = await regOptions(srv, token, kind);
  assert.equal(o.status, 200, o.text);
  const r = await register(srv, token, auth.create(o.json.publicKey, { origin: ORIGIN, ...t }), name);
  assert.equal(r.status, 201, `register ${kind}: ${r.status} ${r.text}`);
  return r.json;
}

/** A refused answer: the status and code, and no token in the body. */
function refused(r, status, code) {
  assertError(r, status, code);
  assert.equal(r.json.token, undefined, r.text);
  assert.equal(r.json.refresh_token, undefined, r.text);
}

async function alive(srv) {
  const r = await http('GET', srv.url + '/healthz');
  assert.equal(r.status, 200, 'the server no longer answers');
}

describe('WebAuthn', { timeout: 180000 }, () => {
  let srv;
  const db = newDb();
  const P = { mia: password(), tom: password(), ann: password() };
  const keys = {
    miaPasskey: new SoftAuthenticator({ alg: ES256, fmt: 'none', uv: true, be: true, bs: true, transports: ['internal', 'hybrid'] }),
    miaKey: new SoftAuthenticator({ alg: EDDSA, fmt: 'packed', uv: false, transports: ['usb', 'nfc'] }),
    tomPasskey: new SoftAuthenticator({ alg: RS256, fmt: 'packed', uv: true }),
    annKey: new SoftAuthenticator({ alg: ES256, fmt: 'packed', uv: false }),
  };
  let miaToken;
  let tomToken;
  let annToken;

  before(async () => {
    await mkTenant(db, 'acme');
    await mkTenant(db, 'other');
    await mkUser(db, 'acme', 'mia@example.com', P.mia);
    await mkUser(db, 'acme', 'tom@example.com', P.tom);
    await mkUser(db, 'other', 'ann@example.com', P.ann);
    srv = await startServer({
      db,
      // a high lock threshold: the suite makes many wrong answers on purpose
      args: ['--default-tenant', 'acme', '--mfa-lock-after', '1000', '--webauthn-rp-id', RP, '--webauthn-origins', `https://app.example, ${ORIGIN}`],
    });
    miaToken = (await loginOk(srv, 'mia@example.com', P.mia)).token;
    tomToken = (await loginOk(srv, 'tom@example.com', P.tom)).token;
    annToken = (await loginOk(srv, 'ann@example.com', P.ann, { tenant_slug: 'other' })).token;
  });
  after(async () => {
    if (srv) await srv.stop();
  });

  describe('registration', () => {
    it('creation options in the JSON form parseCreationOptionsFromJSON reads', async () => {
      const r = await regOptions(srv, miaToken, 'passkey');
      assert.equal(r.status, 200, r.text);
      const pk = r.json.publicKey;
      assert.deepEqual(pk.rp, { id: RP, name: RP });
      assert.match(pk.challenge, /^[A-Za-z0-9_-]{43}$/);
      assert.equal(Buffer.from(pk.user.id, 'base64url').toString(), decodeJwt(miaToken).payload.sub);
      assert.equal(pk.user.name, 'mia@example.com');
      assert.deepEqual(pk.pubKeyCredParams.map((p) => [p.type, p.alg]), [['public-key', -7], ['public-key', -8], ['public-key', -257]]);
      assert.deepEqual(pk.authenticatorSelection, { residentKey: 'required', requireResidentKey: true, userVerification: 'required' });
      assert.equal(pk.attestation, 'none');
      assert.equal(pk.timeout, 300000);
      assert.deepEqual(pk.excludeCredentials, []);
      const k = await regOptions(srv, miaToken, 'security_key');
      assert.equal(k.status, 200, k.text);
      assert.deepEqual(k.json.publicKey.authenticatorSelection, { residentKey: 'discouraged', requireResidentKey: false, userVerification: 'discouraged' });
      assert.notEqual(k.json.publicKey.challenge, pk.challenge);
    });

    it('bad requests: no bearer, an unknown kind', async () => {
      assertError(await regOptions(srv, undefined, 'passkey'), 401, 'invalid_token');
      assertError(await regOptions(srv, miaToken, 'yubikey'), 400, 'invalid_request', 'kind');
      assertError(await register(srv, miaToken, 'nope'), 400, 'invalid_request', 'credential');
      assertError(await register(srv, undefined, {}), 401, 'invalid_token');
    });

    it('a passkey (ES256, none), a security key (EdDSA, packed self), an RS256 passkey (packed self)', async () => {
      const a = await enrol(srv, miaToken, keys.miaPasskey, 'passkey', {}, 'Phone');
      assert.match(a.id, UUID_RE);
      assert.equal(a.kind, 'passkey');
      assert.equal(a.name, 'Phone');
      assert.ok(Math.abs(Date.parse(a.created_at) - Date.now()) < 60000, a.created_at);
      const b = await enrol(srv, miaToken, keys.miaKey, 'security_key');
      assert.equal(b.kind, 'security_key');
      assert.equal(b.name, 'Security key');
      const c = await enrol(srv, tomToken, keys.tomPasskey, 'passkey');
      assert.equal(c.kind, 'passkey');
      assert.equal(c.name, 'Passkey');
      await enrol(srv, annToken, keys.annKey, 'security_key');
    });

    it('excludeCredentials lists what the user has', async () => {
      const r = await regOptions(srv, miaToken, 'security_key');
      assert.deepEqual(
        r.json.publicKey.excludeCredentials.map((c) => c.id).sort(),
        [keys.miaPasskey.lastId, keys.miaKey.lastId].sort(),
      );
      const pc = r.json.publicKey.excludeCredentials.find((c) => c.id === keys.miaPasskey.lastId);
      assert.deepEqual(pc, { type: 'public-key', id: keys.miaPasskey.lastId, transports: ['internal', 'hybrid'] });
    });

    it('GET /v1/mfa/factors shows them', async () => {
      const r = await http('GET', srv.url + '/v1/mfa/factors', { token: miaToken });
      assert.equal(r.status, 200, r.text);
      const methods = r.json.factors.map((f) => f.method).sort();
      assert.deepEqual(methods, ['webauthn_fido', 'webauthn_passkey']);
    });
  });

  describe('second factor', () => {
    it('login offers the WebAuthn methods; options list the user\'s credentials', async () => {
      const l = await login(srv, 'mia@example.com', P.mia);
      assert.equal(l.status, 200, l.text);
      assert.equal(l.json.mfa_required, true);
      assert.ok(l.json.methods.includes('webauthn_passkey') && l.json.methods.includes('webauthn_fido'), l.text);
      const o = await mfaOptions(srv, l.json.challenge_id);
      assert.equal(o.status, 200, o.text);
      const pk = o.json.publicKey;
      assert.equal(pk.rpId, RP);
      assert.equal(pk.userVerification, 'discouraged');
      assert.deepEqual(pk.allowCredentials.map((c) => c.id).sort(), [keys.miaPasskey.lastId, keys.miaKey.lastId].sort());
    });

    for (const [name, key, method] of [
      ['a security key (EdDSA, UP only)', 'miaKey', 'webauthn_fido'],
      ['a passkey (ES256)', 'miaPasskey', 'webauthn_passkey'],
    ]) {
      it(`signs in with ${name}`, async () => {
        const l = await login(srv, 'mia@example.com', P.mia);
        const o = await mfaOptions(srv, l.json.challenge_id);
        const cred = keys[key].get(o.json.publicKey, { origin: ORIGIN });
        const r = await mfaAnswer(srv, l.json.challenge_id, method, cred);
        assert.equal(r.status, 200, r.text);
        assert.ok(r.json.token && r.json.refresh_token, r.text);
        const amr = decodeJwt(r.json.token).payload.amr;
        assert.ok(amr.includes('pwd') && amr.includes('hwk'), JSON.stringify(amr));
      });
    }

    it('an answer without options (no WebAuthn challenge) is refused', async () => {
      const l = await login(srv, 'mia@example.com', P.mia);
      const cred = keys.miaKey.get({ challenge: crypto.randomBytes(32).toString('base64url'), rpId: RP }, { origin: ORIGIN });
      refused(await mfaAnswer(srv, l.json.challenge_id, 'webauthn_fido', cred), 401, 'mfa_invalid');
    });
  });

  describe('passwordless', () => {
    it('options for discoverable credentials, UV required', async () => {
      const r = await passkeyOptions(srv);
      assert.equal(r.status, 200, r.text);
      assert.match(r.json.challenge_id, UUID_RE);
      const pk = r.json.publicKey;
      assert.equal(pk.rpId, RP);
      assert.equal(pk.userVerification, 'required');
      assert.deepEqual(pk.allowCredentials, []);
      assert.match(pk.challenge, /^[A-Za-z0-9_-]{43}$/);
      assertError(await passkeyOptions(srv, { tenant_slug: 'nope' }), 401, 'invalid_credentials');
      assertError(await passkeyOptions(srv, { tenant_slug: 7 }), 400, 'invalid_request', 'tenant_slug');
    });

    for (const [name, key, email] of [
      ['ES256 (none)', 'miaPasskey', 'mia@example.com'],
      ['RS256 (packed self)', 'tomPasskey', 'tom@example.com'],
    ]) {
      it(`signs in with a passkey, ${name}`, async () => {
        const o = await passkeyOptions(srv);
        const r = await passkeyLogin(srv, o.json.challenge_id, keys[key].get(o.json.publicKey, { origin: ORIGIN }));
        assert.equal(r.status, 200, r.text);
        assert.equal(r.json.user.email, email);
        assert.deepEqual(decodeJwt(r.json.token).payload.amr, ['hwk', 'user', 'mfa']);
      });
    }

    it('from the second configured origin too', async () => {
      const o = await passkeyOptions(srv);
      const r = await passkeyLogin(srv, o.json.challenge_id, keys.miaPasskey.get(o.json.publicKey, { origin: 'https://app.example' }));
      assert.equal(r.status, 200, r.text);
    });

    it('a security key is no passkey', async () => {
      const o = await passkeyOptions(srv);
      const cred = keys.miaKey.get(o.json.publicKey, { origin: ORIGIN, credId: keys.miaKey.lastId, flags: FLAG.UP | FLAG.UV });
      refused(await passkeyLogin(srv, o.json.challenge_id, cred), 401, 'mfa_invalid');
    });
  });

  describe('the negative suite (passwordless assertions)', () => {
    /** options, a bent assertion of mia's passkey, and the answer */
    async function bent(t, { key = 'miaPasskey', challengeId } = {}) {
      const o = await passkeyOptions(srv);
      const cred = keys[key].get(o.json.publicKey, { origin: ORIGIN, ...(typeof t === 'function' ? t(o.json.publicKey) : t) });
      return passkeyLogin(srv, challengeId ?? o.json.challenge_id, cred);
    }

    it('wrong challenge', async () => {
      refused(await bent({ challenge: crypto.randomBytes(32).toString('base64url') }), 401, 'mfa_invalid');
      refused(await bent({ challenge: 'AAAA' }), 401, 'mfa_invalid');
    });

    it('a challenge of another ceremony (a registration\'s, another login\'s)', async () => {
      const reg = await regOptions(srv, miaToken, 'passkey');
      refused(await bent({ challenge: reg.json.publicKey.challenge }), 401, 'mfa_invalid');
      const other = await passkeyOptions(srv);
      refused(await bent({}, { challengeId: other.json.challenge_id }), 401, 'mfa_invalid');
      refused(await passkeyLogin(srv, crypto.randomUUID(), keys.miaPasskey.get(other.json.publicKey, { origin: ORIGIN })), 401, 'mfa_invalid');
      refused(await passkeyLogin(srv, 'not-a-uuid', keys.miaPasskey.get(other.json.publicKey, { origin: ORIGIN })), 401, 'mfa_invalid');
    });

    it('reused challenge: the same assertion twice, and a second one for the same options', async () => {
      const o = await passkeyOptions(srv);
      const cred = keys.miaPasskey.get(o.json.publicKey, { origin: ORIGIN });
      const first = await passkeyLogin(srv, o.json.challenge_id, cred);
      assert.equal(first.status, 200, first.text);
      refused(await passkeyLogin(srv, o.json.challenge_id, cred), 401, 'mfa_invalid');
      refused(await passkeyLogin(srv, o.json.challenge_id, keys.miaPasskey.get(o.json.publicKey, { origin: ORIGIN })), 401, 'mfa_invalid');
    });

    it('a wrong answer spends the ceremony too', async () => {
      const o = await passkeyOptions(srv);
      refused(await passkeyLogin(srv, o.json.challenge_id, keys.miaPasskey.get(o.json.publicKey, { origin: 'https://evil.example' })), 401, 'mfa_invalid');
      refused(await passkeyLogin(srv, o.json.challenge_id, keys.miaPasskey.get(o.json.publicKey, { origin: ORIGIN })), 401, 'mfa_invalid');
    });

    it('wrong origin, wrong type, cross-origin', async () => {
      refused(await bent({ origin: 'https://evil.example' }), 401, 'mfa_invalid');
      refused(await bent({ origin: 'http://localhost:8081' }), 401, 'mfa_invalid');
      refused(await bent({ origin: 'HTTP://LOCALHOST:8080' }), 401, 'mfa_invalid');
      refused(await bent({ type: 'webauthn.create' }), 401, 'mfa_invalid');
      refused(await bent((pk) => ({ clientData: JSON.stringify({ type: 'webauthn.get', challenge: pk.challenge, origin: ORIGIN, crossOrigin: true }) })), 401, 'mfa_invalid');
      refused(await bent((pk) => ({ clientData: JSON.stringify({ type: 'webauthn.get', challenge: pk.challenge, origin: ORIGIN, topOrigin: 'https://evil.example' }) })), 401, 'mfa_invalid');
      refused(await bent((pk) => ({ clientData: `{"type":"webauthn.get","type":"webauthn.get","challenge":"${pk.challenge}","origin":"${ORIGIN}"}` })), 401, 'mfa_invalid');
    });

    it('wrong rpIdHash', async () => {
      refused(await bent({ rpId: 'evil.example' }), 401, 'mfa_invalid');
      refused(await bent({ rpId: 'localhost.' }), 401, 'mfa_invalid');
    });

    it('UP missing, UV missing (passwordless needs UV)', async () => {
      refused(await bent({ flags: FLAG.UV | FLAG.BE | FLAG.BS }), 401, 'mfa_invalid');
      refused(await bent({ flags: FLAG.UP | FLAG.BE | FLAG.BS }), 401, 'mfa_invalid');
    });

    it('backup flags: BS without BE, and BE changing, are refused', async () => {
      refused(await bent({ key: 'tomPasskey', flags: FLAG.UP | FLAG.UV | FLAG.BS }), 401, 'mfa_invalid');
      refused(await bent({ flags: FLAG.UP | FLAG.UV }), 401, 'mfa_invalid');
    });

    it('unknown credential, another user\'s, another tenant\'s', async () => {
      const stranger = new SoftAuthenticator({ alg: ES256 });
      stranger.create({ rp: { id: RP }, user: { id: Buffer.from('x').toString('base64url') }, challenge: 'AAAA' }, { origin: ORIGIN });
      const so = await passkeyOptions(srv);
      refused(await passkeyLogin(srv, so.json.challenge_id, stranger.get(so.json.publicKey, { origin: ORIGIN })), 401, 'mfa_invalid');
      // mia's credential id with tom's user handle
      const tomHandle = keys.tomPasskey.creds.get(keys.tomPasskey.lastId).userHandle;
      refused(await bent({ userHandle: tomHandle }), 401, 'mfa_invalid');
      // passwordless needs the user handle
      refused(await bent({ userHandle: null }), 401, 'mfa_invalid');
      // ann's security key in tenant other, offered to acme (and to other: no passkey)
      const o = await passkeyOptions(srv);
      refused(await passkeyLogin(srv, o.json.challenge_id, keys.annKey.get(o.json.publicKey, { origin: ORIGIN, flags: FLAG.UP | FLAG.UV })), 401, 'mfa_invalid');
    });

    it('counter regression is refused and audited as a possible clone', async () => {
      const c = keys.miaPasskey.creds.get(keys.miaPasskey.lastId);
      const stored = c.counter + 10;
      c.counter = stored - 1;
      const first = await bent({});
      assert.equal(first.status, 200, first.text);
      const seen = srv.events().filter((e) => e.event === 'webauthn_counter_regression').length;
      refused(await bent({ counter: stored }), 401, 'mfa_invalid');
      refused(await bent({ counter: stored - 1 }), 401, 'mfa_invalid');
      refused(await bent({ counter: 0 }), 401, 'mfa_invalid');
      await new Promise((r) => setTimeout(r, 100));
      const ev = srv.events().filter((e) => e.event === 'webauthn_counter_regression');
      assert.equal(ev.length - seen, 3, `audited: ${JSON.stringify(ev)}`);
      assert.equal(ev.at(-1).stored, stored);
      assert.equal(ev.at(-1).presented, 0);
      assert.equal(ev.at(-1).user, decodeJwt(miaToken).payload.sub);
      // the authenticator counting on still works
      const ok = await bent({});
      assert.equal(ok.status, 200, ok.text);
    });

    it('alg mismatch: signed with another key or algorithm than the one registered', async () => {
      const ed = keys.miaKey.creds.get(keys.miaKey.lastId);
      refused(await bent({ signWith: ed }), 401, 'mfa_invalid');
      const rsa = keys.tomPasskey.creds.get(keys.tomPasskey.lastId);
      refused(await bent({ signWith: rsa }), 401, 'mfa_invalid');
      refused(await bent({ signature: Buffer.alloc(64, 7) }), 401, 'mfa_invalid');
    });

    it('malformed and oversized parts', async () => {
      refused(await bent({ authData: Buffer.alloc(36) }), 401, 'mfa_invalid');
      refused(await bent({ authData: Buffer.alloc(3000) }), 401, 'mfa_invalid');
      refused(await bent({ signature: Buffer.alloc(1100, 1) }), 401, 'mfa_invalid');
      refused(await bent({ clientData: '{"type":' }), 401, 'mfa_invalid');
      refused(await bent({ clientData: 'x'.repeat(5000) }), 401, 'mfa_invalid');
      const o = await passkeyOptions(srv);
      const good = keys.miaPasskey.get(o.json.publicKey, { origin: ORIGIN });
      for (const bad of [
        { ...good, id: 'x' + good.id },
        { ...good, type: 'password' },
        { ...good, response: { ...good.response, signature: '!!' } },
        { ...good, response: { ...good.response, authenticatorData: undefined } },
        { ...good, rawId: Buffer.alloc(1024, 1).toString('base64url'), id: Buffer.alloc(1024, 1).toString('base64url') },
      ]) {
        const o2 = await passkeyOptions(srv);
        refused(await passkeyLogin(srv, o2.json.challenge_id, bad), 401, 'mfa_invalid');
      }
      assertError(await passkeyLogin(srv, o.json.challenge_id, 'text'), 400, 'invalid_request', 'credential');
      await alive(srv);
    });

    it('a hundred bad assertions at once on one ceremony: one is judged, none passes', async () => {
      const o = await passkeyOptions(srv);
      const before = srv.events().filter((e) => e.event === 'mfa_failed' && e.reason === 'code').length;
      const ed = keys.miaKey.creds.get(keys.miaKey.lastId);
      const all = await Promise.all(
        Array.from({ length: 100 }, () => passkeyLogin(srv, o.json.challenge_id, keys.miaPasskey.get(o.json.publicKey, { origin: ORIGIN, signWith: ed }))),
      );
      for (const r of all) refused(r, 401, 'mfa_invalid');
      await new Promise((r) => setTimeout(r, 200));
      const judged = srv.events().filter((e) => e.event === 'mfa_failed' && e.reason === 'code').length - before;
      assert.ok(judged >= 1 && judged <= 1, `judged ${judged} times`);
      await alive(srv);
    });
  });

  describe('the negative suite (second factor)', () => {
    async function answer(t, method = 'webauthn_fido', key = 'miaKey') {
      const l = await login(srv, 'mia@example.com', P.mia);
      const o = await mfaOptions(srv, l.json.challenge_id);
      const cred = keys[key].get(o.json.publicKey, { origin: ORIGIN, ...(typeof t === 'function' ? t(o.json.publicKey) : t) });
      return { r: await mfaAnswer(srv, l.json.challenge_id, method, cred), l, o, cred };
    }

    it('wrong challenge, origin, rpIdHash, UP; another user\'s credential; a bad signature', async () => {
      refused((await answer({ challenge: crypto.randomBytes(32).toString('base64url') })).r, 401, 'mfa_invalid');
      refused((await answer({ origin: 'https://evil.example' })).r, 401, 'mfa_invalid');
      refused((await answer({ rpId: 'evil.example' })).r, 401, 'mfa_invalid');
      refused((await answer({ flags: 0 })).r, 401, 'mfa_invalid');
      refused((await answer({ signature: Buffer.alloc(70, 1) })).r, 401, 'mfa_invalid');
      const l = await login(srv, 'mia@example.com', P.mia);
      const o = await mfaOptions(srv, l.json.challenge_id);
      const tom = keys.tomPasskey.get(o.json.publicKey, { origin: ORIGIN, credId: keys.tomPasskey.lastId });
      refused(await mfaAnswer(srv, l.json.challenge_id, 'webauthn_passkey', tom), 401, 'mfa_invalid');
    });

    it('a WebAuthn challenge of one login does not answer another', async () => {
      const a = await login(srv, 'mia@example.com', P.mia);
      const b = await login(srv, 'mia@example.com', P.mia);
      const oa = await mfaOptions(srv, a.json.challenge_id);
      const cred = keys.miaKey.get(oa.json.publicKey, { origin: ORIGIN });
      refused(await mfaAnswer(srv, b.json.challenge_id, 'webauthn_fido', cred), 401, 'mfa_invalid');
    });

    it('reused: the same assertion twice', async () => {
      const { r, l, cred } = await answer({});
      assert.equal(r.status, 200, r.text);
      refused(await mfaAnswer(srv, l.json.challenge_id, 'webauthn_fido', cred), 401, 'challenge_invalid');
      const l2 = await login(srv, 'mia@example.com', P.mia);
      refused(await mfaAnswer(srv, l2.json.challenge_id, 'webauthn_fido', cred), 401, 'mfa_invalid');
    });

    it('a hundred bad assertions at once on one login challenge are judged at most five times', async () => {
      const l = await login(srv, 'mia@example.com', P.mia);
      const before = srv.events().filter((e) => e.event === 'mfa_failed' && e.reason === 'code').length;
      const creds = [];
      for (let i = 0; i < 100; i++) {
        const o = await mfaOptions(srv, l.json.challenge_id);
        if (o.status !== 200) break;
        creds.push(keys.miaKey.get(o.json.publicKey, { origin: ORIGIN, signature: Buffer.alloc(70, i) }));
      }
      assert.equal(creds.length, 100);
      const all = await Promise.all(creds.map((c) => mfaAnswer(srv, l.json.challenge_id, 'webauthn_fido', c)));
      for (const r of all) assert.ok(r.status === 401 && !r.json.token && ['mfa_invalid', 'challenge_invalid'].includes(r.json.code), r.text);
      await new Promise((r) => setTimeout(r, 200));
      const judged = srv.events().filter((e) => e.event === 'mfa_failed' && e.reason === 'code').length - before;
      assert.ok(judged >= 1 && judged <= 5, `judged ${judged} times`);
      await alive(srv);
    });
  });

  describe('the negative suite (registration)', () => {
    /** register/options of kind, then a bent create() */
    async function bentReg(t, { kind = 'passkey', token, alg = ES256, fmt = 'none', uv = true } = {}) {
      const auth = new SoftAuthenticator({ alg, fmt, uv });
      const o = await regOptions(srv, token ?? tomToken, kind);
      assert.equal(o.status, 200, o.text);
      const cred = auth.create(o.json.publicKey, { origin: ORIGIN, ...(typeof t === 'function' ? t(o.json.publicKey) : t) });
      return { r: await register(srv, token ?? tomToken, cred), cred, o, auth };
    }
    const no = (x) => refused(x.r, 401, 'mfa_invalid');

    it('wrong challenge, type, origin, rpIdHash', async () => {
      no(await bentReg({ challenge: crypto.randomBytes(32).toString('base64url') }));
      no(await bentReg({ type: 'webauthn.get' }));
      no(await bentReg({ origin: 'https://evil.example' }));
      no(await bentReg({ rpId: 'evil.example' }));
    });

    it('a challenge of another user, of another kind, or reused', async () => {
      const o = await regOptions(srv, miaToken, 'passkey');
      const auth = new SoftAuthenticator();
      refused(await register(srv, tomToken, auth.create(o.json.publicKey, { origin: ORIGIN })), 401, 'mfa_invalid');
      // a passkey ceremony answered with UP only: UV is required for passkeys
      no(await bentReg({ flags: FLAG.UP | FLAG.AT }));
      // reused
      const x = await bentReg({}, { alg: EDDSA });
      assert.equal(x.r.status, 201, x.r.text);
      refused(await register(srv, tomToken, x.cred), 401, 'mfa_invalid');
    });

    it('UP missing; BS without BE', async () => {
      no(await bentReg({ flags: FLAG.UV | FLAG.AT }));
      no(await bentReg({ flags: FLAG.UP | FLAG.UV | FLAG.BS | FLAG.AT }));
    });

    it('algorithms not offered, a key that does not match its alg, packed with another alg', async () => {
      const auth = new SoftAuthenticator({ alg: ES256 });
      const kp = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
      no(await bentReg({ cose: coseKey(kp.publicKey, ES256, -35) }));
      no(await bentReg({ cose: coseKey(kp.publicKey, ES256, -8) }));
      no(await bentReg({ attAlg: RS256 }, { fmt: 'packed' }));
      no(await bentReg({ fmt: 'tpm' }));
      void auth;
    });

    it('malformed and oversized CBOR', async () => {
      no(await bentReg({ attObj: Buffer.from('not cbor at all') }));
      no(await bentReg({ attObj: Buffer.from([0xbf, 0x63, 0x66, 0x6d, 0x74, 0xff]) }));     // indefinite map
      no(await bentReg({ attObj: Buffer.alloc(40, 0x81) }));                                 // 40 arrays deep
      no(await bentReg({ attObj: Buffer.concat([Buffer.from([0x5a, 0xff, 0xff, 0xff, 0xff]), Buffer.alloc(8)]) })); // 4 GiB claimed
      no(await bentReg({ attObj: cbor(new Map([['fmt', 'none'], ['attStmt', {}], ['authData', Buffer.alloc(3000, 1)]])) }));
      no(await bentReg({ idLen: 1024 }));
      no(await bentReg((pk) => ({ authData: Buffer.alloc(37), challenge: pk.challenge })));
      no(await bentReg({ cose: Buffer.concat([Buffer.from([0x59, 0x04, 0x01]), Buffer.alloc(1025)]) }));
      no(await bentReg({ ext: { x: Array.from({ length: 1 }, () => [[[[[[[1]]]]]]]) } }));
      const nested = Buffer.concat([Buffer.alloc(10000, 0x81), Buffer.from([0])]);
      no(await bentReg({ attObj: nested }));
      await alive(srv);
    });

    it('a credential id at the cap (1023 bytes) registers; registered twice is a conflict', async () => {
      const x = await bentReg({ idLen: 1023 }, { kind: 'security_key', uv: false });
      assert.equal(x.r.status, 201, x.r.text);
      const id = Buffer.from(x.cred.rawId, 'base64url');
      assert.equal(id.length, 1023);
      const same = await regOptions(srv, tomToken, 'security_key');
      assertError(await register(srv, tomToken, new SoftAuthenticator({ uv: false }).create(same.json.publicKey, { origin: ORIGIN, id })), 409, 'conflict');
      const other = await regOptions(srv, tomToken, 'passkey');
      assertError(await register(srv, tomToken, new SoftAuthenticator({ uv: true }).create(other.json.publicKey, { origin: ORIGIN, id })), 409, 'conflict');
      const mias = await regOptions(srv, miaToken, 'security_key');
      assertError(await register(srv, miaToken, new SoftAuthenticator({ uv: false }).create(mias.json.publicKey, { origin: ORIGIN, id })), 409, 'conflict');
    });
  });

  describe('removal', () => {
    it('a removed passkey signs in no more', async () => {
      const list = await http('GET', srv.url + '/v1/mfa/factors', { token: tomToken });
      const before = list.json.factors.filter((f) => f.method === 'webauthn_passkey');
      assert.ok(before.length >= 1, list.text);
      for (const f of before) {
        const d = await http('DELETE', srv.url + '/v1/mfa/factors/' + f.id, { token: tomToken });
        assert.equal(d.status, 204, d.text);
      }
      const o = await passkeyOptions(srv);
      refused(await passkeyLogin(srv, o.json.challenge_id, keys.tomPasskey.get(o.json.publicKey, { origin: ORIGIN })), 401, 'mfa_invalid');
    });
  });
});

describe('WebAuthn configuration and policy', { timeout: 120000 }, () => {
  it('the RP ID and the origin default to the issuer\'s', async () => {
    const db = newDb();
    const P = password();
    await mkTenant(db, 'acme');
    await mkUser(db, 'acme', 'lu@example.com', P);
    const srv = await startServer({ db, args: ['--default-tenant', 'acme'] });
    try {
      const host = new URL(ISSUER).hostname;
      const token = (await loginOk(srv, 'lu@example.com', P)).token;
      const o = await regOptions(srv, token, 'security_key');
      assert.equal(o.json.publicKey.rp.id, host);
      const auth = new SoftAuthenticator({ uv: false });
      refused(await register(srv, token, auth.create(o.json.publicKey, { origin: ORIGIN })), 401, 'mfa_invalid');
      const o2 = await regOptions(srv, token, 'security_key');
      const r = await register(srv, token, auth.create(o2.json.publicKey, { origin: new URL(ISSUER).origin }));
      assert.equal(r.status, 201, r.text);
      const p = await passkeyOptions(srv);
      assert.equal(p.json.publicKey.rpId, host);
    } finally {
      await srv.stop();
    }
  });

  it('an origin list that does not parse stops the server at start', async () => {
    for (const bad of ['ftp://files.example', 'https://a.example/path', '*', 'https://a.example,,https://b.example']) {
      await assert.rejects(
        startServer({ args: ['--webauthn-origins', bad] }),
        (e) => /exited/.test(e.message) && /webauthn/.test(e.message),
        bad,
      );
    }
  });

  it('passwordless ceremonies count as sign-in attempts of the address', async () => {
    const db = newDb();
    await mkTenant(db, 'acme');
    const srv = await startServer({ db, rateLimits: false, args: ['--default-tenant', 'acme', '--rl-ip-burst', '3', '--rl-ip-per-min', '1'] });
    try {
      for (let i = 0; i < 3; i++) assert.equal((await passkeyOptions(srv)).status, 200);
      const r = await passkeyOptions(srv);
      assertError(r, 429, 'rate_limited');
      assert.ok(Number(r.headers['retry-after']) >= 1, JSON.stringify(r.headers));
    } finally {
      await srv.stop();
    }
  });

  it('a tenant that does not allow passkeys or security keys neither offers nor takes them', async () => {
    const db = newDb();
    const P = password();
    await mkTenant(db, 'acme');
    await mkUser(db, 'acme', 'jo@example.com', P);
    await cliOk(['tenant', 'mfa', 'acme', 'optional', 'totp'], { db });
    const srv = await startServer({ db, args: ['--default-tenant', 'acme', ] });
    try {
      const token = (await loginOk(srv, 'jo@example.com', P)).token;
      assertError(await regOptions(srv, token, 'passkey'), 400, 'mfa_not_enrolled');
      assertError(await regOptions(srv, token, 'security_key'), 400, 'mfa_not_enrolled');
      assertError(await passkeyOptions(srv), 400, 'mfa_not_enrolled');
    } finally {
      await srv.stop();
    }
  });

  it('an unproven enrolment token registers nothing', async () => {
    const db = newDb();
    const P = password();
    await mkTenant(db, 'strict', { mfaRequired: true });
    await mkUser(db, 'strict', 'kim@example.com', P);
    const srv = await startServer({ db, args: ['--default-tenant', 'strict'] });
    try {
      const l = await login(srv, 'kim@example.com', P);
      assert.equal(l.json.enrollment_required, true, l.text);
      assertError(await regOptions(srv, l.json.token, 'passkey'), 403, 'enrollment_proof_required');
    } finally {
      await srv.stop();
    }
  });
});
