// Issue 7, items 1, 2, 4 and 5: the MFA enrolment bypass, enrolment tokens
// that looked like logins, second-factor failures that never locked, and
// challenge tries that parallel guesses could exceed.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as jose from 'jose';
import {
  newDb, mkTenant, mkUser, http, login, me, refresh, pw, assertError, ISSUER, cliOk, cli,
  noteSecret,
} from '../lib/server.js';
import {
  startFaceServer, startSmtp, iamAuthToken, iamSession, px0Login, adminToken,
  assertIam, assertPx0, assertAdmin, enrollTotp, codeAt, stepNow, wrongCode, sql, codeOfMail,
} from '../lib/faces-helpers.js';

const STRICT = { headers: { Host: 'strict.test' } };
const post = (srv, path, token, json) => http('POST', srv.url + path, { token, json });
const sendCode = (srv, et) => post(srv, '/v1/mfa/enroll/email/send', et);
const verifyCode = (srv, et, code) => post(srv, '/v1/mfa/enroll/email/verify', et, { code });
const redeem = (srv, et, token) => post(srv, '/v1/mfa/enroll/link', et, { token });
const enroll = (srv, et) => post(srv, '/v1/mfa/totp/enroll', et);
const confirm = (srv, et, code) => post(srv, '/v1/mfa/totp/confirm', et, { code });
const challenge = (srv, id, code) => post(srv, '/v1/auth/mfa/challenge', undefined, { challenge_id: id, method: 'totp', code });

/** A 6-digit code other than c. */
const otherThan = (c) => String((Number(c) + 1 + Math.floor(Math.random() * 999998)) % 1000000).padStart(6, '0');

/** The enrolment token of a user of the strict tenant. */
async function enrolToken(srv, email, password) {
  const r = await login(srv, email, password, { tenant_slug: 'strict' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.enrollment_required, true, r.text);
  return r.json.token;
}

/** The code of the first enrolment mail to `to` after message number `after`. */
async function enrolMail(smtp, to, after) {
  const m = await smtp.waitMessage((x) => smtp.messages.indexOf(x) >= after && x.to.includes(to) && /enrolment code is/.test(x.data));
  const c = /enrolment code is ([0-9]{6})/.exec(m.data);
  assert.ok(c, m.data);
  return c[1];
}

/** The second-factor failure count of a user, read from the store. */
function mfaFailures(db, userId) {
  const out = sql(db, `SELECT failures FROM login_locks WHERE key = 'mfa|${userId}';`).trim();
  return out === '' ? 0 : Number(out);
}

/** A TOTP code of a step after `used` that is still accepted now. */
function freshCode(secret, used) {
  const s = Math.max(stepNow(), used + 1);
  return { code: codeAt(secret, s), step: s };
}

describe('issue 7: MFA enrolment, tokens and second-factor limits', { timeout: 240000 }, () => {
  let srv;
  let smtp;
  let jwks;
  const db = newDb();
  const P = {};
  const ids = {};
  const users = ['bypass', 'mail', 'renew', 'link', 'other', 'race', 'elsewhere', 'enrlock', 'iam'];

  before(async () => {
    await mkTenant(db, 'acme', { domains: ['acme.test'] });
    await mkTenant(db, 'strict', { domains: ['strict.test'], mfaRequired: true });
    for (const u of users) {
      P[u] = pw();
      ids[u] = await mkUser(db, 'strict', `${u}@strict.test`, P[u], { admin: u === 'elsewhere' });
    }
    for (const u of ['totp']) {
      P[u] = pw();
      ids[u] = await mkUser(db, 'acme', `${u}@example.com`, P[u]);
    }
    smtp = await startSmtp();
    srv = await startFaceServer({
      db, defaultTenant: 'acme',
      args: ['--smtp-url', smtp.url, '--smtp-from', 'login@tessera.test'],
    });
    jwks = jose.createRemoteJWKSet(new URL(srv.url + '/.well-known/jwks.json'));
  });
  after(async () => {
    if (srv) await srv.stop();
    if (smtp) await smtp.close();
  });

  it('item 1: the old bypass (password, then enroll and confirm with the bare enrolment token) is refused with 403', async () => {
    const et = await enrolToken(srv, 'bypass@strict.test', P.bypass);
    const e = await enroll(srv, et);
    assertError(e, 403, 'enrollment_proof_required');
    assert.equal(e.json.secret, undefined);
    assertError(await confirm(srv, et, '123456'), 403, 'enrollment_proof_required');
    // nothing was enrolled: the next login still asks for enrolment
    const again = await login(srv, 'bypass@strict.test', P.bypass, { tenant_slug: 'strict' });
    assert.equal(again.json.enrollment_required, true, again.text);
    assert.ok(again.json.notices.some((n) => /POST \/v1\/mfa\/enroll\/email\/send/.test(n)), again.text);
  });

  it('item 2: a standard validation of a login token refuses the enrolment token and accepts a full one', async () => {
    const et = await enrolToken(srv, 'bypass@strict.test', P.bypass);
    await assert.rejects(jose.jwtVerify(et, jwks, { issuer: ISSUER, audience: 'tessera' }),
      (e) => e.code === 'ERR_JWT_CLAIM_VALIDATION_FAILED' && e.claim === 'aud');
    const { payload } = await jose.jwtVerify(et, jwks, { issuer: ISSUER, audience: 'tessera:enroll' });
    assert.equal(payload.scope, 'enroll');
    const full = await login(srv, 'totp@example.com', P.totp);
    assert.equal(full.status, 200, full.text);
    const v = await jose.jwtVerify(full.json.token, jwks, { issuer: ISSUER, audience: 'tessera' });
    assert.equal(v.payload.aud, 'tessera');
    assert.equal(v.payload.scope, 'full');
  });

  it('item 1: the mailed-code proof works end to end, and only then may TOTP be enrolled', async () => {
    const et = await enrolToken(srv, 'mail@strict.test', P.mail);
    const before = smtp.messages.length;
    const s = await sendCode(srv, et);
    assert.equal(s.status, 202, s.text);
    assert.equal(s.json.sent, true);
    const code = await enrolMail(smtp, 'mail@strict.test', before);
    noteSecret(code);
    assertError(await verifyCode(srv, et, otherThan(code)), 401, 'mfa_invalid');
    assertError(await enroll(srv, et), 403, 'enrollment_proof_required');
    const v = await verifyCode(srv, et, code);
    assert.equal(v.status, 200, v.text);
    assert.deepEqual(v.json, { enrollment_proven: true });
    assertError(await verifyCode(srv, et, code), 401, 'challenge_invalid');   // single use
    // proven, the enrolment token is still only an enrolment token
    assertError(await me(srv, et), 403, 'forbidden');
    const e = await enroll(srv, et);
    assert.equal(e.status, 200, e.text);
    const step = stepNow();
    const c = await confirm(srv, et, codeAt(e.json.secret, step));
    assert.equal(c.status, 200, c.text);
    assert.equal(c.json.enabled, true);
    assert.ok(c.json.token && c.json.refresh_token, c.text);
    const full = await jose.jwtVerify(c.json.token, jwks, { issuer: ISSUER, audience: 'tessera' });
    assert.equal(full.payload.scope, 'full');
    assert.deepEqual(full.payload.amr, ['pwd', 'mca', 'otp']);
    assert.equal((await me(srv, c.json.token)).status, 200);
    // the enrolment session ended with it
    assertError(await me(srv, et), 401, 'session_revoked');
    const again = await login(srv, 'mail@strict.test', P.mail, { tenant_slug: 'strict' });
    assert.equal(again.json.mfa_required, true, again.text);
  });

  it('item 1: a new mailed code voids the one before', async () => {
    const et = await enrolToken(srv, 'renew@strict.test', P.renew);
    let n = smtp.messages.length;
    assert.equal((await sendCode(srv, et)).status, 202);
    const first = await enrolMail(smtp, 'renew@strict.test', n);
    n = smtp.messages.length;
    assert.equal((await sendCode(srv, et)).status, 202);
    const second = await enrolMail(smtp, 'renew@strict.test', n);
    noteSecret(first);
    noteSecret(second);
    if (first !== second) assertError(await verifyCode(srv, et, first), 401, 'mfa_invalid');
    assert.equal((await verifyCode(srv, et, second)).status, 200);
  });

  it('item 1: an administrator\'s enrolment link proves the session; wrong, other users\' and spent links are 401 invalid_token', async () => {
    const link = await cliOk(['user', 'enroll-link', '--tenant', 'strict', '--email', 'link@strict.test'], { db });
    const others = await cliOk(['user', 'enroll-link', '--tenant', 'strict', '--email', 'other@strict.test', '--ttl', '600'], { db });
    noteSecret(link);
    noteSecret(others);
    assert.match(link, /^[A-Za-z0-9_-]{43}$/);
    const bad = await cli(['user', 'enroll-link', '--tenant', 'strict', '--email', 'nobody@strict.test'], { db });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /no user nobody@strict\.test in tenant strict/);

    const et = await enrolToken(srv, 'link@strict.test', P.link);
    assertError(await redeem(srv, et, others), 401, 'invalid_token');
    assertError(await redeem(srv, et, 'A'.repeat(43)), 401, 'invalid_token');
    assertError(await enroll(srv, et), 403, 'enrollment_proof_required');
    assert.deepEqual((await redeem(srv, et, link)).json, { enrollment_proven: true });
    assertError(await redeem(srv, et, link), 401, 'invalid_token');   // single use
    const e = await enroll(srv, et);
    assert.equal(e.status, 200, e.text);
    const c = await confirm(srv, et, codeAt(e.json.secret, stepNow()));
    assert.equal(c.status, 200, c.text);
    const full = await jose.jwtVerify(c.json.token, jwks, { issuer: ISSUER, audience: 'tessera' });
    assert.deepEqual(full.payload.amr, ['pwd', 'link', 'otp']);
    // the other user's link was not spent by the refusal
    const et2 = await enrolToken(srv, 'other@strict.test', P.other);
    assert.equal((await redeem(srv, et2, others)).status, 200);
  });

  it('items 1 and 4: a mailed code takes 5 tries, counted atomically when 20 wrong codes race', async () => {
    const et = await enrolToken(srv, 'race@strict.test', P.race);
    const n = smtp.messages.length;
    assert.equal((await sendCode(srv, et)).status, 202);
    const code = await enrolMail(smtp, 'race@strict.test', n);
    noteSecret(code);
    const rs = await Promise.all(Array.from({ length: 20 }, () => verifyCode(srv, et, otherThan(code))));
    const by = {};
    for (const r of rs) by[r.json.code] = (by[r.json.code] ?? 0) + 1;
    assert.deepEqual(by, { mfa_invalid: 5, challenge_invalid: 15 });
    // the code is dead now, even the right one
    assertError(await verifyCode(srv, et, code), 401, 'challenge_invalid');
    assert.equal(mfaFailures(db, ids.race), 5);
  });

  it('item 1: the enrolment token does nothing else, and no face turns the password alone into a session', async () => {
    const et = await enrolToken(srv, 'elsewhere@strict.test', P.elsewhere);
    assertError(await me(srv, et), 403, 'forbidden');
    assertError(await refresh(srv, et), 401, 'invalid_token');
    // IAM has no bearer calls; as an auth token it is nothing
    assertIam(await iamSession(srv, { authToken: et }, STRICT), 400, 'session', 2);
    // IAM's password step asks for a mailed code: the same proof
    const t = await iamAuthToken(srv, { email: 'elsewhere@strict.test', password: P.elsewhere }, STRICT);
    assert.equal(t.status, 201, t.text);
    assert.equal(t.json.is2FARequired, true);
    noteSecret(t.json.authToken);
    assertIam(await iamSession(srv, { authToken: t.json.authToken }, STRICT), 400, 'session', 1);
    // px0 and admin have no second-factor step: refused after the password
    assertPx0(await px0Login(srv, { email: 'elsewhere@strict.test', password: P.elsewhere }, STRICT), 403, 'multi-factor authentication required');
    assertAdmin(await adminToken(srv, { email: 'elsewhere@strict.test', password: P.elsewhere }, STRICT), 401, 'mfa_required');
    // and a full-scope route of the native face with the token in a tenant header
    const m = await http('GET', srv.url + '/v1/auth/me', { token: et, headers: { 'X-Tenant-Slug': 'strict' } });
    assertError(m, 403, 'forbidden');
  });

  it('item 1: IAM\'s mailed code for a user without a factor counts wrong codes like every second factor', async () => {
    const t = await iamAuthToken(srv, { email: 'iam@strict.test', password: P.iam }, STRICT);
    assert.equal(t.status, 201, t.text);
    noteSecret(t.json.authToken);
    const m = await smtp.waitMessage((x) => x.to.includes('iam@strict.test'));
    const code = codeOfMail(m);
    noteSecret(code);
    assertIam(await iamSession(srv, { authToken: t.json.authToken, otpCode: otherThan(code) }, STRICT), 400, 'session', 1);
    assert.equal(mfaFailures(db, ids.iam), 1);
    const s = await iamSession(srv, { authToken: t.json.authToken, otpCode: code }, STRICT);
    assert.equal(s.status, 201, s.text);
    assert.equal(mfaFailures(db, ids.iam), 0, 'a correct second factor ends the run');
  });

  it('item 5: wrong second factors lock the account\'s second factor; a correct password does not lift it; unlock does', async () => {
    let { secret, step } = await enrollTotp(srv, 'totp@example.com', P.totp);
    const bad = wrongCode(secret);
    for (let round = 0; round < 2; round++) {
      const l = await login(srv, 'totp@example.com', P.totp);
      assert.equal(l.json.mfa_required, true, l.text);
      for (let i = 0; i < 5; i++) assertError(await challenge(srv, l.json.challenge_id, bad), 401, 'mfa_invalid');
    }
    assert.equal(mfaFailures(db, ids.totp), 10);
    // a correct password still opens a challenge, but the right code is not even checked
    const l = await login(srv, 'totp@example.com', P.totp);
    assert.equal(l.json.mfa_required, true, l.text);
    const good = freshCode(secret, step);
    const r = await challenge(srv, l.json.challenge_id, good.code);
    assertError(r, 429, 'rate_limited');
    const wait = Number(r.headers['retry-after']);
    assert.ok(wait > 800 && wait <= 900, `Retry-After ${r.headers['retry-after']}`);
    // the same lock on IAM's second step
    const t = await iamAuthToken(srv, { email: 'totp@example.com', password: P.totp });
    noteSecret(t.json.authToken);
    const i = await iamSession(srv, { authToken: t.json.authToken, otpCode: good.code });
    assertIam(i, 429, 'rate-limit', 0);
    assert.ok(Number(i.headers['retry-after']) > 800);
    assert.equal(mfaFailures(db, ids.totp), 10, 'locked answers are not counted or checked');
    const locks = await cliOk(['user', 'locks'], { db });
    assert.match(locks, /totp@example\.com failures=10 locked_until=\S+ factor=second/);
    await cliOk(['user', 'unlock', '--tenant', 'acme', '--email', 'totp@example.com'], { db });
    const ok = await challenge(srv, l.json.challenge_id, good.code);
    assert.equal(ok.status, 200, ok.text);
    step = good.step;
    assert.equal(mfaFailures(db, ids.totp), 0);
  });

  it('item 5: the lock holds on TOTP confirm and on the mailed enrolment code too', async () => {
    const link = await cliOk(['user', 'enroll-link', '--tenant', 'strict', '--email', 'enrlock@strict.test'], { db });
    noteSecret(link);
    const et = await enrolToken(srv, 'enrlock@strict.test', P.enrlock);
    assert.equal((await redeem(srv, et, link)).status, 200);
    const e = await enroll(srv, et);
    assert.equal(e.status, 200, e.text);
    const bad = wrongCode(e.json.secret);
    for (let i = 0; i < 10; i++) assertError(await confirm(srv, et, bad), 401, 'mfa_invalid');
    const c = await confirm(srv, et, codeAt(e.json.secret, stepNow()));
    assertError(c, 429, 'rate_limited');
    assert.ok(Number(c.headers['retry-after']) > 800);
    const v = await verifyCode(srv, et, '123456');
    assertError(v, 429, 'rate_limited');
    assert.ok(Number(v.headers['retry-after']) > 800);
  });
});

describe('issue 7 item 4: challenge tries under a burst of guesses', { timeout: 120000 }, () => {
  const db = newDb();
  const P = pw();
  let srv;
  const uid = [];
  before(async () => {
    await mkTenant(db, 'acme');
    for (let i = 1; i <= 6; i++) uid[i] = await mkUser(db, 'acme', `hundred${i}@example.com`, P);
    // Many event-loop threads, so the guesses really run at once.
    srv = await startFaceServer({ db, defaultTenant: 'acme', args: ['--http-threads', '8'] });
  });
  after(async () => {
    if (srv) await srv.stop();
  });

  it('100 wrong codes sent at once to one login challenge are judged at most 5 times (6 rounds)', async () => {
    const judged = [];
    for (let round = 1; round <= 6; round++) {
      const email = `hundred${round}@example.com`;
      const { secret } = await enrollTotp(srv, email, P);
      const bad = wrongCode(secret);
      const l = await login(srv, email, P);
      assert.equal(l.json.mfa_required, true, l.text);
      const rs = await Promise.all(Array.from({ length: 100 }, () => challenge(srv, l.json.challenge_id, bad)));
      const by = {};
      for (const r of rs) by[r.json.code] = (by[r.json.code] ?? 0) + 1;
      judged.push(by);
    }
    assert.deepEqual(judged, Array(6).fill({ mfa_invalid: 5, challenge_invalid: 95 }));
    // and the account's second-factor count went up by those 5 only
    for (let round = 1; round <= 6; round++) assert.equal(mfaFailures(db, uid[round]), 5, `round ${round}`);
  });
});

describe('issue 7: mailed enrolment codes are rate limited per account', { timeout: 60000 }, () => {
  const db = newDb();
  const P = pw();
  let srv;
  let smtp;
  before(async () => {
    await mkTenant(db, 'strict', { mfaRequired: true });
    await mkUser(db, 'strict', 'flood@strict.test', P);
    smtp = await startSmtp();
    srv = await startFaceServer({
      db, defaultTenant: 'strict', limits: true,
      args: ['--smtp-url', smtp.url, '--rl-account-burst', '2', '--rl-account-per-min', '1'],
    });
  });
  after(async () => {
    if (srv) await srv.stop();
    if (smtp) await smtp.close();
  });

  it('a third code within the burst is 429 with Retry-After, and no mail goes', async () => {
    const r = await login(srv, 'flood@strict.test', P);
    assert.equal(r.json.enrollment_required, true, r.text);
    assert.equal((await sendCode(srv, r.json.token)).status, 202);
    assert.equal((await sendCode(srv, r.json.token)).status, 202);
    const third = await sendCode(srv, r.json.token);
    assertError(third, 429, 'rate_limited');
    assert.ok(Number(third.headers['retry-after']) >= 1, third.headers['retry-after']);
    await smtp.waitMessage(() => smtp.messages.length >= 2);
    assert.equal(smtp.messages.length, 2);
  });
});

describe('issue 7: enrolment proof without a mail server', { timeout: 60000 }, () => {
  const db = newDb();
  const P = pw();
  let srv;
  before(async () => {
    await mkTenant(db, 'strict', { mfaRequired: true });
    await mkUser(db, 'strict', 'nomail@strict.test', P);
    srv = await startFaceServer({ db, defaultTenant: 'strict' });
  });
  after(async () => {
    if (srv) await srv.stop();
  });

  it('501 mail_unconfigured, with a notice to ask for an enrolment link', async () => {
    const r = await login(srv, 'nomail@strict.test', P);
    assert.equal(r.json.enrollment_required, true, r.text);
    assert.ok(r.json.notices.some((n) => /enrolment link/.test(n)), r.text);
    const s = await sendCode(srv, r.json.token);
    assertError(s, 501, 'mail_unconfigured');
    assert.equal(s.json.notices.length, 1);
    assert.match(s.json.notices[0], /ask an administrator/);
  });
});
