// Issue 10: the factor table on the native API. Login methods from the
// user's factors and the tenant's policy; recovery codes (single use, a new
// set voids the old, a mail on use); email codes by a real SMTP server
// (a new one voids the old, single use, per-user send limit); listing and
// removing factors (reauth_required, the last-factor rule); the policy CLI.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto, { randomUUID } from 'node:crypto';
import {
  newDb, mkTenant, mkUser, http, login, decodeJwt, assertError, cliOk, cli, noteSecret, UUID_RE,
} from '../lib/server.js';
import { startFaceServer, startSmtp, codeOfMail, sql, codeAt, stepNow, enrollTotp } from '../lib/faces-helpers.js';

const longPw = () => 'correct horse battery ' + crypto.randomBytes(6).toString('hex');
const post = (srv, path, json, token) => http('POST', srv.url + path, { json, token });
const challenge = (srv, challenge_id, method, code) => post(srv, '/v1/auth/mfa/challenge', { challenge_id, method, code });
const sendMail = (srv, challenge_id) => post(srv, '/v1/auth/mfa/email/send', { challenge_id });
const factors = (srv, token) => http('GET', srv.url + '/v1/mfa/factors', { token });
const removeFactor = (srv, token, id) => http('DELETE', srv.url + '/v1/mfa/factors/' + id, { token });
const newCodes = async (srv, token) => {
  const r = await post(srv, '/v1/mfa/recovery-codes', undefined, token);
  assert.equal(r.status, 200, r.text);
  for (const c of r.json.codes) noteSecret(c);
  return r.json.codes;
};
/** A fresh login that must stop at a challenge; resolves its json. */
async function toChallenge(srv, email, password, tenant_slug) {
  const l = await login(srv, email, password, tenant_slug ? { tenant_slug } : {});
  assert.equal(l.status, 200, l.text);
  assert.equal(l.json.mfa_required, true, l.text);
  return l.json;
}
/** A full token set through TOTP (the current or next step). */
async function totpLogin(srv, email, password, secret, step) {
  const l = await toChallenge(srv, email, password);
  const r = await challenge(srv, l.challenge_id, 'totp', codeAt(secret, step));
  assert.equal(r.status, 200, r.text);
  return r.json;
}
const mailsTo = (smtp, to) => smtp.messages.filter((m) => m.to.includes(to));
/** The next mail to `to` after `seen` mails to it. */
const nextMail = (smtp, to, seen) => smtp.waitMessage((m) => m.to.includes(to) && mailsTo(smtp, to).indexOf(m) >= seen);

describe('factors: login methods, recovery codes, email codes, listing and removal', { timeout: 180000 }, () => {
  const db = newDb();
  const P = { ann: longPw(), bob: longPw(), cy: longPw(), dee: longPw() };
  let srv;
  let smtp;
  before(async () => {
    await mkTenant(db, 'acme');
    await cliOk(['tenant', 'mfa', 'acme', 'optional', 'totp,email,recovery_code'], { db });
    for (const u of ['ann', 'bob', 'cy', 'dee']) await mkUser(db, 'acme', `${u}@acme.test`, P[u]);
    smtp = await startSmtp();
    srv = await startFaceServer({
      db, defaultTenant: 'acme',
      args: ['--smtp-url', smtp.url, '--smtp-from', 'login@tessera.test'],
    });
  });
  after(async () => {
    if (srv) await srv.stop();
    if (smtp) await smtp.close();
  });

  let ann;       // {secret, step}
  let annToken;  // a fresh full token

  it('a user without factors signs in with the password alone and lists no factors', async () => {
    const l = await login(srv, 'ann@acme.test', P.ann);
    assert.equal(l.status, 200, l.text);
    assert.ok(l.json.token && !l.json.mfa_required, l.text);
    const f = await factors(srv, l.json.token);
    assert.equal(f.status, 200, f.text);
    assert.deepEqual(f.json, { factors: [] });
  });

  it('with TOTP the login offers totp and email (the tenant allows email; no recovery codes yet)', async () => {
    ann = await enrollTotp(srv, 'ann@acme.test', P.ann);
    const l = await toChallenge(srv, 'ann@acme.test', P.ann);
    assert.deepEqual(l.methods, ['totp', 'email']);
    const r = await challenge(srv, l.challenge_id, 'totp', codeAt(ann.secret, ann.step + 1));
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(decodeJwt(r.json.token).payload.amr, ['pwd', 'otp']);
    annToken = r.json.token;
    const f = await factors(srv, annToken);
    assert.equal(f.status, 200, f.text);
    assert.equal(f.json.factors.length, 1);
    const [t] = f.json.factors;
    assert.equal(t.method, 'totp');
    assert.match(t.id, UUID_RE);
    assert.equal(t.name, 'Authenticator app');
    assert.ok(t.last_used_at, 'the challenge just used it');
  });

  it('recovery codes: 10 distinct codes, offered at login, each good once, with a mail on use', async () => {
    const codes = await newCodes(srv, annToken);
    assert.equal(codes.length, 10);
    assert.equal(new Set(codes).size, 10);
    const f = await factors(srv, annToken);
    const rc = f.json.factors.find((x) => x.method === 'recovery_code');
    assert.equal(rc.remaining, 10);
    assert.equal(rc.last_used_at, null);

    const l = await toChallenge(srv, 'ann@acme.test', P.ann);
    assert.deepEqual(l.methods, ['totp', 'email', 'recovery_code']);
    const seen = mailsTo(smtp, 'ann@acme.test').length;
    const r = await challenge(srv, l.challenge_id, 'recovery_code', codes[0]);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(decodeJwt(r.json.token).payload.amr, ['pwd', 'otp']);
    const m = await nextMail(smtp, 'ann@acme.test', seen);
    assert.match(m.data, /A recovery code was just used/);
    assert.match(m.data, /9 of your recovery codes are left/);
    assert.ok(!m.data.includes(codes[0]), 'the mail does not repeat the code');

    // the same code again: refused
    const l2 = await toChallenge(srv, 'ann@acme.test', P.ann);
    assertError(await challenge(srv, l2.challenge_id, 'recovery_code', codes[0]), 401, 'mfa_invalid');
    // another code, typed without dashes and in capitals: good
    const r2 = await challenge(srv, l2.challenge_id, 'recovery_code', codes[1].replace(/-/g, '').toUpperCase());
    assert.equal(r2.status, 200, r2.text);
    const f2 = await factors(srv, r2.json.token);
    assert.equal(f2.json.factors.find((x) => x.method === 'recovery_code').remaining, 8);
  });

  it('a new set voids the old one', async () => {
    const old = await newCodes(srv, annToken);
    const fresh = await newCodes(srv, annToken);
    const l = await toChallenge(srv, 'ann@acme.test', P.ann);
    assertError(await challenge(srv, l.challenge_id, 'recovery_code', old[5]), 401, 'mfa_invalid');
    const r = await challenge(srv, l.challenge_id, 'recovery_code', fresh[5]);
    assert.equal(r.status, 200, r.text);
    const f = await factors(srv, r.json.token);
    assert.equal(f.json.factors.filter((x) => x.method === 'recovery_code').length, 1);
  });

  it('email: a mailed code signs in once (amr mca); a new code voids the old', async () => {
    const l = await toChallenge(srv, 'ann@acme.test', P.ann);
    let seen = mailsTo(smtp, 'ann@acme.test').length;
    const s1 = await sendMail(srv, l.challenge_id);
    assert.equal(s1.status, 202, s1.text);
    assert.equal(s1.json.sent, true);
    const first = codeOfMail(await nextMail(smtp, 'ann@acme.test', seen));
    noteSecret(first);
    seen = mailsTo(smtp, 'ann@acme.test').length;
    assert.equal((await sendMail(srv, l.challenge_id)).status, 202);
    const second = codeOfMail(await nextMail(smtp, 'ann@acme.test', seen));
    noteSecret(second);
    if (first !== second) assertError(await challenge(srv, l.challenge_id, 'email', first), 401, 'mfa_invalid');
    const r = await challenge(srv, l.challenge_id, 'email', second);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(decodeJwt(r.json.token).payload.amr, ['pwd', 'mca']);
    // the code is spent with its challenge: a new challenge does not take it
    const l2 = await toChallenge(srv, 'ann@acme.test', P.ann);
    assertError(await challenge(srv, l2.challenge_id, 'email', second), 401, 'mfa_invalid');
  });

  it('email send: unknown challenge 401, malformed 400, a spent challenge 401', async () => {
    assertError(await sendMail(srv, randomUUID()), 401, 'challenge_invalid');
    assertError(await sendMail(srv, 'not-a-uuid'), 401, 'challenge_invalid');
    assertError(await post(srv, '/v1/auth/mfa/email/send', {}), 400, 'invalid_request', 'challenge_id');
    const l = await toChallenge(srv, 'ann@acme.test', P.ann);
    const codes = await newCodes(srv, annToken);
    assert.equal((await challenge(srv, l.challenge_id, 'recovery_code', codes[0])).status, 200);
    assertError(await sendMail(srv, l.challenge_id), 401, 'challenge_invalid');
  });

  it('a method the user cannot use is 400 mfa_not_enrolled, an unknown one 400 invalid_request, neither code nor credential 400', async () => {
    // bob: TOTP only, no recovery codes
    const bob = await enrollTotp(srv, 'bob@acme.test', P.bob);
    const l = await toChallenge(srv, 'bob@acme.test', P.bob);
    assert.deepEqual(l.methods, ['totp', 'email']);
    assertError(await challenge(srv, l.challenge_id, 'recovery_code', 'aaaa-bbbb-cccc'), 400, 'mfa_not_enrolled');
    assertError(await challenge(srv, l.challenge_id, 'sms', '123456'), 400, 'invalid_request', 'method');
    assertError(await post(srv, '/v1/auth/mfa/challenge', { challenge_id: l.challenge_id, method: 'totp' }), 400, 'invalid_request', 'code');
    assertError(await post(srv, '/v1/auth/mfa/challenge', { challenge_id: l.challenge_id, method: 'totp', credential: 'x' }), 400, 'invalid_request', 'credential');
    // none of these cost a try: the right code still works
    const r = await challenge(srv, l.challenge_id, 'totp', codeAt(bob.secret, bob.step + 1));
    assert.equal(r.status, 200, r.text);
  });

  it('the tenant policy decides which factors count: without TOTP allowed a TOTP user signs in with the password', async () => {
    await cliOk(['tenant', 'mfa', 'acme', 'optional', 'email,recovery_code'], { db });
    const l = await login(srv, 'bob@acme.test', P.bob);
    assert.equal(l.status, 200, l.text);
    assert.ok(l.json.token && !l.json.mfa_required, l.text);
    assertError(await post(srv, '/v1/mfa/totp/enroll', undefined, l.json.token), 400, 'mfa_not_enrolled');
    await cliOk(['tenant', 'mfa', 'acme', 'optional', 'totp,email,recovery_code'], { db });
    assert.equal((await login(srv, 'bob@acme.test', P.bob)).json.mfa_required, true);
  });

  it('listing and removing need a bearer; an enrolment-only or unknown id is refused', async () => {
    assertError(await factors(srv), 401, 'invalid_token');
    assertError(await removeFactor(srv, undefined, randomUUID()), 401, 'invalid_token');
    assertError(await removeFactor(srv, annToken, randomUUID()), 404, 'not_found');
    assertError(await removeFactor(srv, annToken, 'not-a-uuid'), 404, 'not_found');
    // another user's factor is not found either
    const cy = await enrollTotp(srv, 'cy@acme.test', P.cy);
    const cyTok = await totpLogin(srv, 'cy@acme.test', P.cy, cy.secret, cy.step + 1);
    const cyTotp = (await factors(srv, cyTok.token)).json.factors[0];
    assertError(await removeFactor(srv, annToken, cyTotp.id), 404, 'not_found');
    const g = await http('GET', srv.url + '/v1/mfa/factors/' + cyTotp.id, { token: annToken, validate: false });
    assert.equal(g.status, 405, g.text);
    assert.equal(g.headers.allow, 'DELETE');
  });

  it('removing needs a sign-in within 5 minutes: 403 reauth_required, then 204 with a fresh one', async () => {
    const dee = await enrollTotp(srv, 'dee@acme.test', P.dee);
    const t = await totpLogin(srv, 'dee@acme.test', P.dee, dee.secret, dee.step + 1);
    const codes = await newCodes(srv, t.token);
    const list = (await factors(srv, t.token)).json.factors;
    assert.deepEqual(list.map((f) => f.method).sort(), ['recovery_code', 'totp']);
    const totpId = list.find((f) => f.method === 'totp').id;
    const sid = decodeJwt(t.token).payload.sid;
    assert.match(sid, UUID_RE);
    sql(db, `UPDATE sessions SET created_at = created_at - 301 WHERE id = '${sid}';`);
    assertError(await removeFactor(srv, t.token, totpId), 403, 'reauth_required');
    // a refresh does not make the sign-in recent
    const rf = await post(srv, '/v1/auth/refresh', { refresh_token: t.refresh_token });
    assert.equal(rf.status, 200, rf.text);
    assertError(await removeFactor(srv, rf.json.token, totpId), 403, 'reauth_required');
    // a fresh sign-in (here with a recovery code) may remove it
    const ch = await toChallenge(srv, 'dee@acme.test', P.dee);
    const fr = await challenge(srv, ch.challenge_id, 'recovery_code', codes[3]);
    assert.equal(fr.status, 200, fr.text);
    const fresh = fr.json;
    const d = await removeFactor(srv, fresh.token, totpId);
    assert.equal(d.status, 204, d.text);
    assertError(await removeFactor(srv, fresh.token, totpId), 404, 'not_found');
    // without a primary factor the recovery codes are no second factor
    const l = await login(srv, 'dee@acme.test', P.dee);
    assert.ok(l.json.token && !l.json.mfa_required, l.text);
    assert.deepEqual((await factors(srv, l.json.token)).json.factors.map((f) => f.method), ['recovery_code']);
  });
});

describe('factors: the last factor in a tenant that requires MFA', { timeout: 120000 }, () => {
  const db = newDb();
  const P = longPw();
  let srv;
  before(async () => {
    await mkTenant(db, 'strict', { mfaRequired: true });
    await mkUser(db, 'strict', 'sam@strict.test', P);
    srv = await startFaceServer({ db });
  });
  after(async () => {
    if (srv) await srv.stop();
  });

  it('the last TOTP cannot be removed (409 last_factor); recovery codes can; once MFA is optional the TOTP can', async () => {
    const l = await login(srv, 'sam@strict.test', P, { tenant_slug: 'strict' });
    assert.equal(l.json.enrollment_required, true, l.text);
    const et = l.json.token;
    assertError(await factors(srv, et), 403, 'forbidden');
    assertError(await post(srv, '/v1/mfa/recovery-codes', undefined, et), 403, 'enrollment_proof_required');
    const link = await cliOk(['user', 'enroll-link', '--tenant', 'strict', '--email', 'sam@strict.test'], { db });
    noteSecret(link);
    assert.equal((await post(srv, '/v1/mfa/enroll/link', { token: link }, et)).status, 200);
    const e = await post(srv, '/v1/mfa/totp/enroll', undefined, et);
    assert.equal(e.status, 200, e.text);
    const step = stepNow();
    const c = await post(srv, '/v1/mfa/totp/confirm', { code: codeAt(e.json.secret, step) }, et);
    assert.equal(c.status, 200, c.text);
    const full = c.json.token;
    await newCodes(srv, full);
    const list = (await factors(srv, full)).json.factors;
    assert.deepEqual(list.map((f) => f.method).sort(), ['recovery_code', 'totp']);
    const totpId = list.find((f) => f.method === 'totp').id;
    const rcId = list.find((f) => f.method === 'recovery_code').id;
    // strict's default policy does not allow email
    const ch = await toChallenge(srv, 'sam@strict.test', P, 'strict');
    assert.deepEqual(ch.methods, ['totp', 'recovery_code']);
    assertError(await sendMail(srv, ch.challenge_id), 400, 'mfa_not_enrolled');
    assertError(await challenge(srv, ch.challenge_id, 'email', '123456'), 400, 'mfa_not_enrolled');

    assertError(await removeFactor(srv, full, totpId), 409, 'last_factor');
    assert.equal((await removeFactor(srv, full, rcId)).status, 204);
    assert.deepEqual((await factors(srv, full)).json.factors.map((f) => f.method), ['totp']);
    await cliOk(['tenant', 'mfa', 'strict', 'optional'], { db });
    assert.equal((await removeFactor(srv, full, totpId)).status, 204);
    assert.deepEqual((await factors(srv, full)).json.factors, []);
  });

  it('tenant mfa refuses what it cannot mean', async () => {
    const bad = await cli(['tenant', 'mfa', 'strict', 'required', 'email'], { db });
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /not a list of factors/);
    const unknown = await cli(['tenant', 'mfa', 'strict', 'optional', 'sms'], { db });
    assert.notEqual(unknown.code, 0);
    const nosuch = await cli(['tenant', 'mfa', 'nosuch', 'optional'], { db });
    assert.match(nosuch.stderr, /no tenant 'nosuch'/);
    const ok = await cli(['tenant', 'mfa', 'strict', 'required', 'totp,recovery_code'], { db });
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /second factor required, factors totp,recovery_code/);
  });
});

describe('factors: mailed codes are limited per user', { timeout: 60000 }, () => {
  const db = newDb();
  const P = longPw();
  let srv;
  let smtp;
  before(async () => {
    await mkTenant(db, 'acme');
    await cliOk(['tenant', 'mfa', 'acme', 'optional', 'totp,email'], { db });
    await mkUser(db, 'acme', 'flo@acme.test', P);
    smtp = await startSmtp();
    srv = await startFaceServer({
      db, defaultTenant: 'acme', limits: true,
      args: ['--smtp-url', smtp.url, '--smtp-from', 'login@tessera.test', '--rl-ip-per-min', '0',
        '--rl-account-per-min', '1', '--rl-account-burst', '3'],
    });
  });
  after(async () => {
    if (srv) await srv.stop();
    if (smtp) await smtp.close();
  });

  it('the fourth mail in a row is 429 with Retry-After, and no mail goes', async () => {
    await enrollTotp(srv, 'flo@acme.test', P);
    const l = await toChallenge(srv, 'flo@acme.test', P);
    for (let i = 0; i < 3; i++) assert.equal((await sendMail(srv, l.challenge_id)).status, 202);
    await smtp.waitMessage(() => mailsTo(smtp, 'flo@acme.test').length >= 3);
    const r = await sendMail(srv, l.challenge_id);
    assertError(r, 429, 'rate_limited');
    assert.ok(Number(r.headers['retry-after']) >= 1, r.headers['retry-after']);
    assert.equal(mailsTo(smtp, 'flo@acme.test').length, 3);
  });
});
