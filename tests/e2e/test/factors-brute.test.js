// Issue 10: one atomic try counter per challenge, whatever the factor. A
// hundred wrong answers sent at once to one login challenge are judged at
// most five times (exactly five mfa_invalid, the rest challenge_invalid),
// for TOTP, mailed codes and recovery codes, and across factors mixed in
// one burst; after that the right answer no longer opens the challenge.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { newDb, mkTenant, mkUser, http, login, cliOk, noteSecret } from '../lib/server.js';
import { startFaceServer, startSmtp, codeOfMail, codeAt, wrongCode, enrollTotp } from '../lib/faces-helpers.js';

const longPw = () => 'correct horse battery ' + crypto.randomBytes(6).toString('hex');
const post = (srv, path, json, token) => http('POST', srv.url + path, { json, token });
const answer = (srv, challenge_id, method, code) => post(srv, '/v1/auth/mfa/challenge', { challenge_id, method, code });
const tally = (rs) => {
  const by = {};
  for (const r of rs) by[r.json?.code ?? r.status] = (by[r.json?.code ?? r.status] ?? 0) + 1;
  return by;
};

describe('factors: a hundred wrong answers at once are judged five times, for every factor', { timeout: 180000 }, () => {
  const db = newDb();
  const P = longPw();
  const users = ['totp', 'email', 'recovery', 'mixed'].map((k) => `${k}@brute.test`);
  let srv;
  let smtp;
  before(async () => {
    await mkTenant(db, 'acme');
    await cliOk(['tenant', 'mfa', 'acme', 'optional', 'totp,email,recovery_code'], { db });
    for (const u of users) await mkUser(db, 'acme', u, P);
    smtp = await startSmtp();
    // Many event threads, so the answers really race; a worker queue that
    // holds a burst (recovery answers are judged on a worker).
    srv = await startFaceServer({
      db, defaultTenant: 'acme',
      args: ['--http-threads', '8', '--hash-queue', '256', '--smtp-url', smtp.url, '--smtp-from', 'login@tessera.test'],
    });
  });
  after(async () => {
    if (srv) await srv.stop();
    if (smtp) await smtp.close();
  });

  /** Enrols TOTP and recovery codes for email; resolves {secret, step, codes, challenge_id}. */
  async function setUp(email) {
    const t = await enrollTotp(srv, email, P);
    const l1 = await login(srv, email, P);
    const ok = await answer(srv, l1.json.challenge_id, 'totp', codeAt(t.secret, t.step + 1));
    assert.equal(ok.status, 200, ok.text);
    const rc = await post(srv, '/v1/mfa/recovery-codes', undefined, ok.json.token);
    assert.equal(rc.status, 200, rc.text);
    for (const c of rc.json.codes) noteSecret(c);
    const l = await login(srv, email, P);
    assert.deepEqual(l.json.methods, ['totp', 'email', 'recovery_code'], l.text);
    return { ...t, codes: rc.json.codes, challenge_id: l.json.challenge_id };
  }

  /** Sends 100 answers at once; asserts 5 judged, and that the right one is then refused. */
  async function burst(ch, wrong, right) {
    const rs = await Promise.all(Array.from({ length: 100 }, (_, i) => answer(srv, ch, ...wrong(i))));
    assert.deepEqual(tally(rs), { mfa_invalid: 5, challenge_invalid: 95 });
    const r = await answer(srv, ch, ...right);
    assert.equal(r.status, 401, r.text);
    assert.equal(r.json.code, 'challenge_invalid', r.text);
  }

  it('TOTP', async () => {
    const u = await setUp(users[0]);
    const bad = wrongCode(u.secret);
    await burst(u.challenge_id, () => ['totp', bad], ['totp', codeAt(u.secret, u.step + 2)]);
  });

  it('email code', async () => {
    const u = await setUp(users[1]);
    const seen = smtp.messages.length;
    const s = await post(srv, '/v1/auth/mfa/email/send', { challenge_id: u.challenge_id });
    assert.equal(s.status, 202, s.text);
    const code = codeOfMail(await smtp.waitMessage((m, i) => m.to.includes(users[1]) && smtp.messages.indexOf(m) >= seen));
    noteSecret(code);
    const bad = code === '000000' ? '000001' : '000000';
    await burst(u.challenge_id, () => ['email', bad], ['email', code]);
  });

  it('recovery code', async () => {
    const u = await setUp(users[2]);
    await burst(u.challenge_id, (i) => ['recovery_code', `zzzz-zzzz-${String(i).padStart(4, '0').replace(/[^0-9]/g, '0')}`],
      ['recovery_code', u.codes[0]]);
    // the right code was not spent by the refused answer: it still works once
    const l = await login(srv, users[2], P);
    const ok = await answer(srv, l.json.challenge_id, 'recovery_code', u.codes[0]);
    assert.equal(ok.status, 200, ok.text);
  });

  it('every factor mixed in one burst still gets five judgements in all', async () => {
    const u = await setUp(users[3]);
    const bad = wrongCode(u.secret);
    const kinds = [['totp', bad], ['email', '999999'], ['recovery_code', 'zzzz-zzzz-zzzz']];
    await burst(u.challenge_id, (i) => kinds[i % 3], ['totp', codeAt(u.secret, u.step + 2)]);
  });
});
