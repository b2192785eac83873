// Self-service accounts on the native face (issue 9): sign-up, address
// verification, password reset and change, the user's own sessions. Every
// mail is read from a real SMTP server (tests/e2e/lib/mail.js), both of
// its parts; every answer is checked against docs/openapi/native.json.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import otplib from 'otplib';
import {
  startServer, http, newDb, cliOk, mkTenant, mkUser, login, loginOk, me, refresh, assertError,
  sleep, noteSecret, UUID_RE,
} from '../lib/server.js';
import { startMail, assertBothParts } from '../lib/mail.js';

const { authenticator } = otplib;
const PUBLIC = 'https://id.example.test';
const longPw = () => 'correct horse battery ' + crypto.randomBytes(6).toString('hex');
const addr = (tag = 'u') => `${tag}-${crypto.randomBytes(5).toString('hex')}@example.org`;
const post = (srv, path, json, opts = {}) => http('POST', srv.url + path, { json, ...opts });
const register = (srv, json, opts) => post(srv, '/v1/auth/register', json, opts);
const verify = (srv, json, opts) => post(srv, '/v1/auth/verify', json, opts);
const resend = (srv, json, opts) => post(srv, '/v1/auth/verify/resend', json, opts);
const forgot = (srv, json, opts) => post(srv, '/v1/auth/password/forgot', json, opts);
const reset = (srv, json, opts) => post(srv, '/v1/auth/password/reset', json, opts);
const change = (srv, token, json) => http('POST', srv.url + '/v1/auth/password/change', { token, json });
const sessions = (srv, token) => http('GET', srv.url + '/v1/auth/sessions', { token });
const endSession = (srv, token, id) => http('DELETE', `${srv.url}/v1/auth/sessions/${id}`, { token });

/** A 6-digit code other than c. */
const otherThan = (c) => String((Number(c) + 1 + Math.floor(Math.random() * 999998)) % 1000000).padStart(6, '0');

describe('self-service accounts (native)', () => {
  let mail, db, srv;

  before(async () => {
    mail = await startMail();
    db = newDb();
    await cliOk(['tenant', 'add', 'open', '--registration-open'], { db });
    await cliOk(['tenant', 'add', 'other', '--registration-open'], { db });
    await cliOk(['tenant', 'add', 'strict', '--registration-open', '--mfa-required'], { db });
    await mkTenant(db, 'closed');
    srv = await startServer({
      db,
      args: ['--smtp-url', mail.url, '--public-url', PUBLIC + '/', '--default-tenant', 'open', '--mail-poll', '1'],
    });
  });
  after(async () => {
    await srv?.stop();
    await mail?.stop();
  });

  /** Registers and verifies a new user of tenant slug; returns its login. */
  async function newUser(slug = 'open') {
    const email = addr(), password = longPw();
    noteSecret(password);
    const r = await register(srv, { email, password, tenant_slug: slug });
    assert.equal(r.status, 202, r.text);
    const m = await mail.next((x) => x.to === email);
    const v = await verify(srv, { token: m.token }, { headers: { 'X-Tenant-Slug': slug } });
    assert.equal(v.status, 200, v.text);
    return { email, password, tokens: v.json };
  }

  describe('POST /v1/auth/register', () => {
    it('a new address: 202, a verification mail in both parts with a --public-url link and a code; the link signs in once', async () => {
      const email = addr(), password = longPw();
      const r = await register(srv, { email, password });
      assert.equal(r.status, 202);
      assert.deepEqual(r.json, { status: 'verification_sent' });
      const m = await mail.next((x) => x.to === email);
      assert.equal(m.subject, 'Confirm your email address');
      assertBothParts(m);
      assert.ok(m.link.startsWith(`${PUBLIC}/verify?token=`), m.link);
      assert.match(m.code, /^\d{6}$/);
      // not verified yet: the right password is told so
      assertError(await login(srv, email, password), 403, 'email_not_verified');
      const v = await verify(srv, { token: m.token }, { headers: { 'User-Agent': 'accounts-test/1' } });
      assert.equal(v.status, 200, v.text);
      assert.ok(v.json.token && v.json.refresh_token);
      assert.equal(v.json.user.email, email);
      assert.equal(v.json.user.is_verified, true);
      assertError(await verify(srv, { token: m.token }), 401, 'invalid_token');
      await loginOk(srv, email, password);
    });

    it('a taken address: the same 202; the owner gets "you already have an account" and the password stays', async () => {
      const u = await newUser();
      const other = longPw();
      const r = await register(srv, { email: u.email.toUpperCase(), password: other });
      assert.equal(r.status, 202);
      assert.deepEqual(r.json, { status: 'verification_sent' });
      const m = await mail.next((x) => x.to === u.email);
      assert.equal(m.subject, 'You already have an account');
      assertBothParts(m);
      assert.equal(m.token, null, 'no token in an "existing account" mail');
      assert.ok(m.text.includes(`${PUBLIC}/reset`));
      await loginOk(srv, u.email, u.password);
      assertError(await login(srv, u.email, other), 401, 'invalid_credentials');
    });

    it('an unverified address registered again: the last password counts and the earlier link is void', async () => {
      const email = addr(), first = longPw(), second = longPw();
      assert.equal((await register(srv, { email, password: first })).status, 202);
      const m1 = await mail.next((x) => x.to === email);
      assert.equal((await register(srv, { email, password: second })).status, 202);
      const m2 = await mail.next((x) => x.to === email);
      assert.equal(m2.subject, 'Confirm your email address');
      assertError(await verify(srv, { token: m1.token }), 401, 'invalid_token');
      assert.equal((await verify(srv, { token: m2.token })).status, 200);
      assertError(await login(srv, email, first), 401, 'invalid_credentials');
      await loginOk(srv, email, second);
    });

    it('weak passwords: 400 weak_password with details.reason', async () => {
      let r = await register(srv, { email: addr(), password: 'short' });
      assertError(r, 400, 'weak_password', 'password');
      assert.equal(r.json.details.reason, 'too_short');
      r = await register(srv, { email: addr(), password: 'x'.repeat(1025) });
      assertError(r, 400, 'weak_password', 'password');
      assert.equal(r.json.details.reason, 'too_long');
    });

    it('malformed: 400 invalid_request naming the field', async () => {
      assertError(await register(srv, { email: 'not-an-address', password: longPw() }), 400, 'invalid_request', 'email');
      assertError(await register(srv, { email: addr() }), 400, 'invalid_request', 'password');
      assertError(await register(srv, { email: addr(), password: longPw(), tenant_slug: 7 }), 400, 'invalid_request', 'tenant_slug');
    });

    it('a closed tenant and an unknown one: 403 registration_closed alike', async () => {
      const a = await register(srv, { email: addr(), password: longPw(), tenant_slug: 'closed' });
      const b = await register(srv, { email: addr(), password: longPw(), tenant_slug: 'no-such-tenant' });
      assertError(a, 403, 'registration_closed');
      assert.deepEqual(a.json, b.json);
      assert.equal(b.status, 403);
    });

    it('two tenants disagreeing: 400 tenant_conflict', async () => {
      const r = await register(srv, { email: addr(), password: longPw(), tenant_slug: 'open' }, { headers: { 'X-Tenant-Slug': 'other' } });
      assertError(r, 400, 'tenant_conflict');
    });
  });

  describe('POST /v1/auth/verify', () => {
    it('the code with the address redeems the same token, once', async () => {
      const email = addr(), password = longPw();
      await register(srv, { email, password, tenant_slug: 'other' });
      const m = await mail.next((x) => x.to === email);
      assertError(await verify(srv, { email, code: otherThan(m.code), tenant_slug: 'other' }), 401, 'invalid_token');
      // the code of tenant "other" does not work in "open"
      assertError(await verify(srv, { email, code: m.code, tenant_slug: 'open' }), 401, 'invalid_token');
      const v = await verify(srv, { email, code: m.code, tenant_slug: 'other' });
      assert.equal(v.status, 200, v.text);
      assert.ok(v.json.refresh_token);
      assertError(await verify(srv, { email, code: m.code, tenant_slug: 'other' }), 401, 'invalid_token');
      // the link of the same mail was spent with it
      assertError(await verify(srv, { token: m.token }), 401, 'invalid_token');
    });

    it('five wrong codes use up the mail: then the right one fails too', async () => {
      const email = addr();
      await register(srv, { email, password: longPw() });
      const m = await mail.next((x) => x.to === email);
      for (let i = 0; i < 5; i++) assertError(await verify(srv, { email, code: otherThan(m.code) }), 401, 'invalid_token');
      assertError(await verify(srv, { email, code: m.code }), 401, 'invalid_token');
      // the link still works: the tries limit guesses, not the owner
      assert.equal((await verify(srv, { token: m.token })).status, 200);
    });

    it('a token of one tenant does not work in another', async () => {
      const email = addr();
      await register(srv, { email, password: longPw(), tenant_slug: 'other' });
      const m = await mail.next((x) => x.to === email);
      assertError(await verify(srv, { token: m.token }, { headers: { 'X-Tenant-Slug': 'open' } }), 401, 'invalid_token');
      assert.equal((await verify(srv, { token: m.token }, { headers: { 'X-Tenant-Slug': 'other' } })).status, 200);
    });

    it('an unknown or malformed token: 401 invalid_token; no token nor code: 400', async () => {
      assertError(await verify(srv, { token: crypto.randomBytes(32).toString('base64url') }), 401, 'invalid_token');
      assertError(await verify(srv, { token: 'short' }), 401, 'invalid_token');
      assertError(await verify(srv, {}), 400, 'invalid_request', 'token');
    });

    it('in a tenant that requires MFA: the login answer shapes (enrolment), not a token set', async () => {
      const email = addr(), password = longPw();
      await register(srv, { email, password, tenant_slug: 'strict' });
      const m = await mail.next((x) => x.to === email);
      const v = await verify(srv, { token: m.token });
      assert.equal(v.status, 200, v.text);
      assert.equal(v.json.enrollment_required, true);
      assert.equal(v.json.refresh_token, undefined);
    });
  });

  describe('POST /v1/auth/verify/resend', () => {
    it('an unverified user gets a new link that voids the old one; verified and unknown get none; 202 alike', async () => {
      const email = addr();
      await register(srv, { email, password: longPw() });
      const m1 = await mail.next((x) => x.to === email);
      const r = await resend(srv, { email });
      assert.equal(r.status, 202);
      assert.deepEqual(r.json, { status: 'accepted' });
      const m2 = await mail.next((x) => x.to === email);
      assert.equal(m2.subject, 'Confirm your email address');
      assert.notEqual(m2.token, m1.token);
      assertError(await verify(srv, { token: m1.token }), 401, 'invalid_token');
      assert.equal((await verify(srv, { token: m2.token })).status, 200);
      // now verified: no mail; an unknown address: no mail; same answer
      const r2 = await resend(srv, { email });
      const r3 = await resend(srv, { email: addr('nobody') });
      assert.deepEqual([r2.status, r2.json], [202, { status: 'accepted' }]);
      assert.deepEqual([r3.status, r3.json], [202, { status: 'accepted' }]);
      await mail.none((x) => x.to === email);
      assertError(await resend(srv, { email: 'nope' }), 400, 'invalid_request', 'email');
    });
  });

  describe('password reset', () => {
    it('forgot mails a reset link; reset sets the password, ends every session, spends the token, and a "changed" mail goes', async () => {
      const u = await newUser();
      const second = await loginOk(srv, u.email, u.password);
      const r = await forgot(srv, { email: u.email }, { headers: { Host: 'evil.example', 'X-Forwarded-Host': 'evil.example' } });
      assert.equal(r.status, 202);
      assert.deepEqual(r.json, { status: 'accepted' });
      const m = await mail.next((x) => x.to === u.email);
      assert.equal(m.subject, 'Reset your password');
      assertBothParts(m);
      // links ignore a forged Host and X-Forwarded-Host
      assert.ok(m.link.startsWith(`${PUBLIC}/reset?token=`), m.link);
      assert.ok(!m.raw.includes('evil.example'));
      const fresh = longPw();
      assert.equal((await reset(srv, { token: m.token, password: fresh })).status, 204);
      assertError(await refresh(srv, u.tokens.refresh_token), 401, 'session_revoked');
      assertError(await refresh(srv, second.refresh_token), 401, 'session_revoked');
      assertError(await me(srv, second.token), 401, 'session_revoked');
      assertError(await login(srv, u.email, u.password), 401, 'invalid_credentials');
      await loginOk(srv, u.email, fresh);
      assertError(await reset(srv, { token: m.token, password: longPw() }), 401, 'invalid_token');
      const c = await mail.next((x) => x.to === u.email);
      assert.equal(c.subject, 'Your password was changed');
      assertBothParts(c);
    });

    it('a new reset link voids the previous one; the code works with the address', async () => {
      const u = await newUser();
      await forgot(srv, { email: u.email });
      const m1 = await mail.next((x) => x.to === u.email);
      await forgot(srv, { email: u.email });
      const m2 = await mail.next((x) => x.to === u.email);
      assertError(await reset(srv, { token: m1.token, password: longPw() }), 401, 'invalid_token');
      assertError(await reset(srv, { email: u.email, code: m1.code, password: longPw() }), 401, 'invalid_token');
      const fresh = longPw();
      assert.equal((await reset(srv, { email: u.email, code: m2.code, password: fresh })).status, 204);
      await loginOk(srv, u.email, fresh);
      await mail.next((x) => x.to === u.email && x.subject === 'Your password was changed');
    });

    it('a weak password is refused and does not spend the token', async () => {
      const u = await newUser();
      await forgot(srv, { email: u.email });
      const m = await mail.next((x) => x.to === u.email);
      const r = await reset(srv, { token: m.token, password: 'tiny' });
      assertError(r, 400, 'weak_password', 'password');
      assert.equal(r.json.details.reason, 'too_short');
      assert.equal((await reset(srv, { token: m.token, password: longPw() })).status, 204);
      await mail.next((x) => x.to === u.email && x.subject === 'Your password was changed');
    });

    it('tokens are bound to their purpose: a reset token does not verify, a verification token does not reset', async () => {
      const email = addr(), password = longPw();
      await register(srv, { email, password });
      const mv = await mail.next((x) => x.to === email);
      await forgot(srv, { email });
      const mr = await mail.next((x) => x.to === email);
      assert.equal(mr.subject, 'Reset your password');
      assertError(await verify(srv, { token: mr.token }), 401, 'invalid_token');
      assertError(await reset(srv, { token: mv.token, password: longPw() }), 401, 'invalid_token');
      assertError(await verify(srv, { email, code: mr.code }), 401, 'invalid_token');
      // a reset proves the address too
      assert.equal((await reset(srv, { token: mr.token, password })).status, 204);
      await loginOk(srv, email, password);
    });

    it('forgot for an unknown address or tenant: 202, no mail', async () => {
      const email = addr('ghost');
      for (const body of [{ email }, { email, tenant_slug: 'no-such-tenant' }, { email, tenant_slug: 'closed' }]) {
        const r = await forgot(srv, body);
        assert.deepEqual([r.status, r.json], [202, { status: 'accepted' }]);
      }
      await mail.none((x) => x.to === email);
    });

    it('a reset does not skip the second factor: after it, login answers the MFA challenge', async () => {
      // a user of the MFA tenant with a confirmed TOTP factor
      const email = addr(), password = longPw();
      await register(srv, { email, password, tenant_slug: 'strict' });
      const m = await mail.next((x) => x.to === email);
      const et = (await verify(srv, { token: m.token })).json.token;
      assert.equal((await http('POST', srv.url + '/v1/mfa/enroll/email/send', { token: et })).status, 202);
      const cm = await mail.next((x) => x.to === email);
      const code = /\b(\d{6})\b/.exec(cm.text)[1];
      assert.equal((await http('POST', srv.url + '/v1/mfa/enroll/email/verify', { token: et, json: { code } })).status, 200);
      const en = await http('POST', srv.url + '/v1/mfa/totp/enroll', { token: et });
      assert.equal(en.status, 200, en.text);
      const ok = await http('POST', srv.url + '/v1/mfa/totp/confirm', { token: et, json: { code: authenticator.generate(en.json.secret) } });
      assert.equal(ok.status, 200, ok.text);
      const full = ok.json;
      // reset
      await forgot(srv, { email, tenant_slug: 'strict' });
      const rm = await mail.next((x) => x.to === email && x.subject === 'Reset your password');
      const fresh = longPw();
      assert.equal((await reset(srv, { token: rm.token, password: fresh })).status, 204);
      assertError(await refresh(srv, full.refresh_token), 401, 'session_revoked');
      const l = await login(srv, email, fresh, { tenant_slug: 'strict' });
      assert.equal(l.status, 200, l.text);
      assert.equal(l.json.mfa_required, true);
      assert.equal(l.json.token, undefined, 'no token before the second factor');
      assert.deepEqual(l.json.methods, ['totp']);
    });
  });

  describe('POST /v1/auth/password/change', () => {
    it('checks the current password, refuses weak ones, ends the other sessions only', async () => {
      const u = await newUser();
      const other = await loginOk(srv, u.email, u.password);
      assertError(await change(srv, u.tokens.token, { current_password: longPw(), password: longPw() }), 401, 'invalid_credentials');
      const w = await change(srv, u.tokens.token, { current_password: u.password, password: 'tiny' });
      assertError(w, 400, 'weak_password', 'password');
      assert.equal(w.json.details.reason, 'too_short');
      assertError(await change(srv, u.tokens.token, { password: longPw() }), 400, 'invalid_request', 'current_password');
      const fresh = longPw();
      assert.equal((await change(srv, u.tokens.token, { current_password: u.password, password: fresh })).status, 204);
      assert.equal((await me(srv, u.tokens.token)).status, 200, 'this session stays');
      assert.equal((await refresh(srv, u.tokens.refresh_token)).status, 200);
      assertError(await refresh(srv, other.refresh_token), 401, 'session_revoked');
      await loginOk(srv, u.email, fresh);
      const c = await mail.next((x) => x.to === u.email);
      assert.equal(c.subject, 'Your password was changed');
    });

    it('a password change voids a pending reset link', async () => {
      const u = await newUser();
      await forgot(srv, { email: u.email });
      const m = await mail.next((x) => x.to === u.email);
      assert.equal((await change(srv, u.tokens.token, { current_password: u.password, password: longPw() })).status, 204);
      assertError(await reset(srv, { token: m.token, password: longPw() }), 401, 'invalid_token');
      await mail.next((x) => x.to === u.email && x.subject === 'Your password was changed');
    });

    it('without a bearer token: 401', async () => {
      assertError(await http('POST', srv.url + '/v1/auth/password/change', { json: { current_password: 'a', password: 'b' } }), 401, 'invalid_token');
    });
  });

  describe('the user\'s sessions', () => {
    it('GET lists live sessions with client facts, newest first; DELETE ends one; another user\'s is 404', async () => {
      const u = await newUser();
      await sleep(1100); // created_at has whole seconds: newest first is then certain
      const b = (await login(srv, u.email, u.password, {}, { headers: { 'User-Agent': 'second-device/2.0' } })).json;
      const r = await sessions(srv, u.tokens.token);
      assert.equal(r.status, 200);
      assert.equal(r.json.items.length, 2);
      const [newest, oldest] = r.json.items;
      assert.match(newest.id, UUID_RE);
      assert.equal(newest.user_agent, 'second-device/2.0');
      assert.equal(newest.ip, '127.0.0.1');
      assert.equal(newest.current, false);
      assert.equal(oldest.current, true);
      assert.ok(Date.parse(newest.created_at) >= Date.parse(oldest.created_at));
      // last_used_at moves at a refresh, not at a bearer call
      await sleep(1100);
      assert.equal((await me(srv, b.token)).status, 200);
      let again = (await sessions(srv, u.tokens.token)).json.items.find((x) => x.id === newest.id);
      assert.equal(again.last_used_at, newest.last_used_at);
      const b2 = (await refresh(srv, b.refresh_token)).json;
      again = (await sessions(srv, u.tokens.token)).json.items.find((x) => x.id === newest.id);
      assert.ok(Date.parse(again.last_used_at) > Date.parse(newest.last_used_at), JSON.stringify(again));
      // another user cannot end it
      const v = await newUser();
      assertError(await endSession(srv, v.tokens.token, newest.id), 404, 'not_found');
      assertError(await endSession(srv, u.tokens.token, crypto.randomUUID()), 404, 'not_found');
      assertError(await endSession(srv, u.tokens.token, 'nonsense'), 404, 'not_found');
      assert.equal((await endSession(srv, u.tokens.token, newest.id)).status, 204);
      assertError(await refresh(srv, b2.refresh_token), 401, 'session_revoked');
      assertError(await endSession(srv, u.tokens.token, newest.id), 404, 'not_found');
      const left = (await sessions(srv, u.tokens.token)).json.items;
      assert.deepEqual(left.map((x) => x.id), [oldest.id]);
      assertError(await http('GET', srv.url + '/v1/auth/sessions'), 401, 'invalid_token');
    });
  });
});

describe('self-service accounts: expiry, limits, no mail server', () => {
  it('tokens expire (--verify-ttl, --reset-ttl)', async () => {
    const mail = await startMail();
    const db = newDb();
    await cliOk(['tenant', 'add', 'open', '--registration-open'], { db });
    const srv = await startServer({
      db,
      args: ['--smtp-url', mail.url, '--public-url', PUBLIC, '--default-tenant', 'open', '--verify-ttl', '2', '--reset-ttl', '2'],
    });
    try {
      const email = addr(), password = longPw();
      await register(srv, { email, password });
      const mv = await mail.next((x) => x.to === email);
      assert.match(mv.text, /for 2 seconds/);
      await sleep(2500);
      assertError(await verify(srv, { token: mv.token }), 401, 'invalid_token');
      assertError(await verify(srv, { email, code: mv.code }), 401, 'invalid_token');
      await forgot(srv, { email });
      const mr = await mail.next((x) => x.to === email);
      await sleep(2500);
      assertError(await reset(srv, { token: mr.token, password: longPw() }), 401, 'invalid_token');
    } finally {
      await srv.stop();
      await mail.stop();
    }
  });

  it('mails per account are limited: 429 rate_limited with Retry-After, alike for unknown addresses', async () => {
    const mail = await startMail();
    const db = newDb();
    await cliOk(['tenant', 'add', 'open', '--registration-open'], { db });
    const srv = await startServer({
      db,
      rateLimits: false,
      args: ['--smtp-url', mail.url, '--default-tenant', 'open', '--rl-account-burst', '2', '--rl-account-per-min', '1'],
    });
    try {
      for (const email of [addr('known'), addr('unknown')]) {
        if (email.startsWith('known')) await mkUser(db, 'open', email, longPw());
        assert.equal((await forgot(srv, { email })).status, 202);
        assert.equal((await forgot(srv, { email })).status, 202);
        const r = await forgot(srv, { email });
        assertError(r, 429, 'rate_limited');
        assert.ok(Number(r.headers['retry-after']) >= 1);
      }
    } finally {
      await srv.stop();
      await mail.stop();
    }
  });

  it('without --smtp-url: 501 mail_unconfigured', async () => {
    const db = newDb();
    await cliOk(['tenant', 'add', 'open', '--registration-open'], { db });
    const srv = await startServer({ db, args: ['--default-tenant', 'open'] });
    try {
      assertError(await register(srv, { email: addr(), password: longPw() }), 501, 'mail_unconfigured');
      assertError(await forgot(srv, { email: addr() }), 501, 'mail_unconfigured');
      assertError(await resend(srv, { email: addr() }), 501, 'mail_unconfigured');
    } finally {
      await srv.stop();
    }
  });

  it('the demo tenant is open for sign-up; tenant add without --registration-open is closed', async () => {
    const mail = await startMail();
    const db = newDb();
    await mkTenant(db, 'shut');
    const srv = await startServer({ db, args: ['--demo', '--smtp-url', mail.url] });
    try {
      const email = addr();
      assert.equal((await register(srv, { email, password: longPw() })).status, 202);
      await mail.next((x) => x.to === email);
      assertError(await register(srv, { email: addr(), password: longPw(), tenant_slug: 'shut' }), 403, 'registration_closed');
    } finally {
      await srv.stop();
      await mail.stop();
    }
  });
});
