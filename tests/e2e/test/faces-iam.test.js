// Contract 001, the IAM two-step login face (POST /iam/me/auth-tokens, then
// POST /iam/me/sessions): every documented status and error group/code from
// a real condition (a real SMTP server for mailed codes, a database locked or
// damaged from another process), each response validated against
// docs/openapi/iam.json.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as jose from 'jose';
import { newDb, sqliteOnly, mkTenant, mkUser, cliOk, http, pw, me, refresh, decodeJwt, ISSUER, sleep } from '../lib/server.js';
import {
  startFaceServer, faceHttp, iamAuthToken, iamSession, assertIam, enrollTotp, codeAt, stepNow,
  wrongCode, startSmtp, deadPort, codeOfMail, lockDb, sql,
} from '../lib/faces-helpers.js';

const STRICT = { headers: { Host: 'strict.test' } };

/** step 1 that must succeed */
async function authToken(srv, email, password, opts = {}) {
  const r = await iamAuthToken(srv, { email, password }, opts);
  assert.equal(r.status, 201, `auth token for ${email}: ${r.status} ${r.text}`);
  assert.deepEqual(Object.keys(r.json).sort(), ['authToken', 'is2FARequired']);
  return r.json;
}

describe('contract 001: the IAM two-step login', { timeout: 180000 }, () => {
  let srv;
  let smtp;
  let jwks;
  const db = newDb();
  const P = { ana: pw(), unver: pw(), off: pw(), tom: pw(), sue: pw() };
  const ids = {};
  let totp;

  before(async () => {
    await mkTenant(db, 'acme', { domains: ['acme.test'] });
    await mkTenant(db, 'strict', { domains: ['strict.test'], mfaRequired: true });
    ids.ana = await mkUser(db, 'acme', 'ana@example.com', P.ana);
    await mkUser(db, 'acme', 'unver@example.com', P.unver, { verified: false });
    await mkUser(db, 'acme', 'off@example.com', P.off);
    await cliOk(['user', 'disable', '--tenant', 'acme', '--email', 'off@example.com'], { db });
    ids.tom = await mkUser(db, 'acme', 'tom@example.com', P.tom);
    ids.sue = await mkUser(db, 'strict', 'sue@strict.test', P.sue);
    smtp = await startSmtp();
    srv = await startFaceServer({
      db, defaultTenant: 'acme', dsn: '?busy_timeout=300',
      args: ['--smtp-url', smtp.url, '--smtp-from', 'login@tessera.test'],
    });
    jwks = jose.createRemoteJWKSet(new URL(srv.url + '/.well-known/jwks.json'));
    totp = await enrollTotp(srv, 'tom@example.com', P.tom);
  });
  after(async () => {
    if (srv) await srv.stop();
    if (smtp) await smtp.close();
  });

  describe('POST /me/auth-tokens', () => {
    it('201 {authToken, is2FARequired:false} for a user without a second factor', async () => {
      const t = await authToken(srv, 'ana@example.com', P.ana);
      assert.equal(t.is2FARequired, false);
      assert.match(t.authToken, /^[A-Za-z0-9_-]{43}$/);
      const t2 = await authToken(srv, 'ana@example.com', P.ana);
      assert.notEqual(t2.authToken, t.authToken, 'a new token each time');
    });

    it('unknown fields are ignored; the email matches case-insensitively', async () => {
      const t = await authToken(srv, 'ANA@example.com', P.ana, { json: { email: 'ANA@example.com', password: P.ana, captcha: 'x', n: [1] } });
      assert.equal(t.is2FARequired, false);
    });

    it('400 request/1 "The request body is required." for no body or an empty one', async () => {
      for (const body of [undefined, '']) {
        const r = await faceHttp(srv, 'iam', 'POST', '/me/auth-tokens', { body });
        assertIam(r, 400, 'request', 1);
        assert.deepEqual(r.json, { group: 'request', code: 1, message: 'The request body is required.' });
      }
    });

    it('400 request/0 with validationDetail per failing field, as in the contract', async () => {
      let r = await iamAuthToken(srv, { password: 'x' });
      assertIam(r, 400, 'request', 0);
      assert.deepEqual(r.json.validationDetail, [
        { field: 'email', expression: 'required', originalValue: '', reason: 'This field is required.' },
      ]);
      r = await iamAuthToken(srv, {});
      assertIam(r, 400, 'request', 0);
      assert.deepEqual(r.json.validationDetail.map((d) => [d.field, d.expression, d.originalValue]),
        [['email', 'required', ''], ['password', 'required', '']]);
      r = await iamAuthToken(srv, { email: '', password: '', x: 1 });
      assert.deepEqual(r.json.validationDetail.map((d) => [d.field, d.expression, d.originalValue]),
        [['email', 'required', ''], ['password', 'required', '']]);
      r = await iamAuthToken(srv, { email: null, password: P.ana });
      assert.deepEqual(r.json.validationDetail.map((d) => [d.field, d.expression, d.originalValue]), [['email', 'required', '']]);
      r = await iamAuthToken(srv, { email: 'ana-at-example.com', password: P.ana });
      assertIam(r, 400, 'request', 0);
      assert.deepEqual(r.json.validationDetail, [
        { field: 'email', expression: 'email', originalValue: 'ana-at-example.com', reason: 'This field must be a valid email address.' },
      ]);
      r = await iamAuthToken(srv, { email: 42, password: P.ana });
      assert.deepEqual(r.json.validationDetail.map((d) => [d.field, d.expression, d.argument, d.originalValue]), [['email', 'type', 'string', 42]]);
      // the password is never echoed
      r = await iamAuthToken(srv, { email: 'ana@example.com', password: 12345678 });
      assert.deepEqual(r.json.validationDetail.map((d) => [d.field, d.expression, d.originalValue]), [['password', 'type', '']]);
      r = await iamAuthToken(srv, { email: 'ana@example.com', password: 'p'.repeat(1025) });
      assert.deepEqual(r.json.validationDetail.map((d) => [d.field, d.expression, d.argument, d.originalValue]), [['password', 'max', '1024', '']]);
      r = await iamAuthToken(srv, { email: 'x@', password: { a: 1 } });
      assert.deepEqual(r.json.validationDetail.map((d) => [d.field, d.expression]), [['email', 'email'], ['password', 'type']]);
    });

    it('400 request/0 with a message for a body that is not a JSON object', async () => {
      const cases = [
        ['not JSON', { body: 'email=ana@example.com' }],
        ['a JSON array', { body: '[]' }],
        ['a number', { body: '1' }],
        ['invalid UTF-8', { body: Buffer.from([0x7b, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x3a, 0x31, 0x7d]) }],
        ['duplicate keys', { body: `{"email":"ana@example.com","password":"x","email":"y@example.com"}` }],
        ['nested 40 deep', { body: `{"email":"ana@example.com","password":"x","z":${'['.repeat(40)}${']'.repeat(40)}}` }],
        ['over 16 KiB', { body: JSON.stringify({ email: 'ana@example.com', password: P.ana, pad: 'p'.repeat(17 * 1024) }) }],
        ['a form Content-Type', { body: '{"email":"ana@example.com","password":"x"}', headers: { 'Content-Type': 'multipart/form-data; boundary=x' } }],
      ];
      for (const [what, opts] of cases) {
        const r = await faceHttp(srv, 'iam', 'POST', '/me/auth-tokens', opts);
        assertIam(r, 400, 'request', 0);
        assert.equal(typeof r.json.message, 'string', what);
        assert.equal(r.json.validationDetail, undefined, `${what}: ${r.text}`);
      }
    });

    it('400 session/0: unknown email, wrong password, disabled and unverified accounts look the same', async () => {
      const wrong = await iamAuthToken(srv, { email: 'ana@example.com', password: 'Wrong-password-1' });
      const unknown = await iamAuthToken(srv, { email: 'nobody@example.com', password: 'Wrong-password-1' });
      const disabled = await iamAuthToken(srv, { email: 'off@example.com', password: P.off });
      const unverified = await iamAuthToken(srv, { email: 'unver@example.com', password: P.unver });
      const otherTenant = await iamAuthToken(srv, { email: 'sue@strict.test', password: P.sue });
      for (const r of [wrong, unknown, disabled, unverified, otherTenant]) assertIam(r, 400, 'session', 0);
      assert.deepEqual(wrong.json, { group: 'session', code: 0, message: 'Invalid email or password.' });
      for (const r of [unknown, disabled, unverified, otherTenant]) assert.equal(r.text, wrong.text);
    });
  });

  describe('POST /me/sessions', () => {
    it('201 {accessToken, refreshToken, expiresIn, tokenType:"Bearer"}; the refresh token works on the native API', async () => {
      const t = await authToken(srv, 'ana@example.com', P.ana);
      const r = await iamSession(srv, { authToken: t.authToken });
      assert.equal(r.status, 201, r.text);
      assert.deepEqual(Object.keys(r.json).sort(), ['accessToken', 'expiresIn', 'refreshToken', 'tokenType']);
      assert.equal(r.json.tokenType, 'Bearer');
      assert.ok(Number.isInteger(r.json.expiresIn) && r.json.expiresIn > 890 && r.json.expiresIn <= 900);
      const { payload } = await jose.jwtVerify(r.json.accessToken, jwks, { issuer: ISSUER, audience: 'tessera' });
      assert.equal(payload.sub, ids.ana);
      assert.deepEqual(payload.amr, ['pwd']);
      assert.equal((await me(srv, r.json.accessToken)).status, 200);
      const f = await refresh(srv, r.json.refreshToken);
      assert.equal(f.status, 200, f.text);
      assert.equal(f.json.user.id, ids.ana);
    });

    it('400 session/2: an auth token is good once; unknown ones are refused', async () => {
      const t = await authToken(srv, 'ana@example.com', P.ana);
      assert.equal((await iamSession(srv, { authToken: t.authToken })).status, 201);
      assertIam(await iamSession(srv, { authToken: t.authToken }), 400, 'session', 2);
      assertIam(await iamSession(srv, { authToken: 'A'.repeat(43) }), 400, 'session', 2);
      assertIam(await iamSession(srv, { authToken: 'not-a-token' }), 400, 'session', 2);
      const r = await iamSession(srv, { authToken: 'x'.repeat(5000) });
      assertIam(r, 400, 'session', 2);
    });

    it('400 session/2 when the account was disabled after step 1', async () => {
      const email = 'dis-later@example.com';
      const p = pw();
      await mkUser(db, 'acme', email, p);
      const t = await authToken(srv, email, p);
      await cliOk(['user', 'disable', '--tenant', 'acme', '--email', email], { db });
      assertIam(await iamSession(srv, { authToken: t.authToken }), 400, 'session', 2);
    });

    it('400 request/1 and request/0 as for step 1', async () => {
      assertIam(await faceHttp(srv, 'iam', 'POST', '/me/sessions', { body: '' }), 400, 'request', 1);
      let r = await iamSession(srv, {});
      assertIam(r, 400, 'request', 0);
      assert.deepEqual(r.json.validationDetail, [
        { field: 'authToken', expression: 'required', originalValue: '', reason: 'This field is required.' },
      ]);
      r = await iamSession(srv, { authToken: 7, otpCode: 123456 });
      assert.deepEqual(r.json.validationDetail.map((d) => [d.field, d.expression, d.originalValue]),
        [['authToken', 'type', 7], ['otpCode', 'type', 123456]]);
      r = await faceHttp(srv, 'iam', 'POST', '/me/sessions', { body: '{"authToken":' });
      assertIam(r, 400, 'request', 0);
    });

    it('TOTP user: is2FARequired true, no mail; session/1 without or with a wrong code; 201 with the right one', async () => {
      const sent = smtp.messages.length;
      const t = await authToken(srv, 'tom@example.com', P.tom);
      assert.equal(t.is2FARequired, true);
      assertIam(await iamSession(srv, { authToken: t.authToken }), 400, 'session', 1);
      assertIam(await iamSession(srv, { authToken: t.authToken, otpCode: '' }), 400, 'session', 1);
      assertIam(await iamSession(srv, { authToken: t.authToken, otpCode: wrongCode(totp.secret) }), 400, 'session', 1);
      // the enrolment spent its step; the next step's code is inside the window
      const r = await iamSession(srv, { authToken: t.authToken, otpCode: codeAt(totp.secret, totp.step + 1) });
      assert.equal(r.status, 201, r.text);
      assert.deepEqual(decodeJwt(r.json.accessToken).payload.amr, ['pwd', 'otp']);
      assert.equal(smtp.messages.length, sent, 'no mail for a TOTP user');
      assertIam(await iamSession(srv, { authToken: t.authToken, otpCode: codeAt(totp.secret, totp.step + 1) }), 400, 'session', 2);
    });

    it('a token takes at most 5 codes: the 6th, even a right one, is session/2', async () => {
      const t = await authToken(srv, 'tom@example.com', P.tom);
      const bad = wrongCode(totp.secret);
      // sent together: the budget holds under concurrency
      const rs = await Promise.all([1, 2, 3, 4, 5, 6, 7].map(() => iamSession(srv, { authToken: t.authToken, otpCode: bad })));
      const codes = rs.map((r) => `${r.json.group}/${r.json.code}`).sort();
      assert.deepEqual(codes, ['session/1', 'session/1', 'session/1', 'session/1', 'session/1', 'session/2', 'session/2'], codes.join());
      assertIam(await iamSession(srv, { authToken: t.authToken, otpCode: codeAt(totp.secret, stepNow()) }), 400, 'session', 2);
    });

    it('tenant requires MFA, user has no TOTP: a code is mailed; session/1 for a wrong one, 201 for the right one', async () => {
      const t = await authToken(srv, 'sue@strict.test', P.sue, STRICT);
      assert.equal(t.is2FARequired, true);
      const m = await smtp.waitMessage((x) => x.to.includes('sue@strict.test'));
      assert.equal(m.from, 'login@tessera.test');
      assert.deepEqual(m.to, ['sue@strict.test']);
      assert.match(m.data, /^From: <login@tessera\.test>\r$/m);
      assert.match(m.data, /^To: <sue@strict\.test>\r$/m);
      assert.match(m.data, /^Subject: Your sign-in code\r$/m);
      const code = codeOfMail(m);
      assert.ok(!srv.out().includes(code) && !srv.err().includes(code), 'the code is not logged');
      const wrong = code === '000000' ? '000001' : '000000';
      assertIam(await iamSession(srv, { authToken: t.authToken }), 400, 'session', 1);
      assertIam(await iamSession(srv, { authToken: t.authToken, otpCode: wrong }), 400, 'session', 1);
      assertIam(await iamSession(srv, { authToken: t.authToken, otpCode: 'abcdef' }), 400, 'session', 1);
      const r = await iamSession(srv, { authToken: t.authToken, otpCode: code });
      assert.equal(r.status, 201, r.text);
      const { payload } = await jose.jwtVerify(r.json.accessToken, jwks, { issuer: ISSUER, audience: 'tessera' });
      assert.equal(payload.sub, ids.sue);
      assert.deepEqual(payload.amr, ['pwd', 'mca']);
      assert.equal(payload.scope, 'full');
      assertIam(await iamSession(srv, { authToken: t.authToken, otpCode: code }), 400, 'session', 2);
    });

    it('a mailed code is bound to its auth token', async () => {
      const before = smtp.messages.length;
      // each 201 comes after its mail was accepted, so the mails are in order
      const a = await authToken(srv, 'sue@strict.test', P.sue, STRICT);
      const b = await authToken(srv, 'sue@strict.test', P.sue, STRICT);
      assert.equal(smtp.messages.length, before + 2);
      const [codeA, codeB] = smtp.messages.slice(before).map(codeOfMail);
      if (codeA !== codeB) {
        assertIam(await iamSession(srv, { authToken: a.authToken, otpCode: codeB }), 400, 'session', 1);
        assertIam(await iamSession(srv, { authToken: b.authToken, otpCode: codeA }), 400, 'session', 1);
      }
      assert.equal((await iamSession(srv, { authToken: a.authToken, otpCode: codeA })).status, 201);
      assert.equal((await iamSession(srv, { authToken: b.authToken, otpCode: codeB })).status, 201);
    });
  });

  describe('500s and 503 from real faults', () => {
    it('500 user/1200 while the database is locked by another process [SQLite only: a lock held by the sqlite3 CLI]', sqliteOnly('a lock held by the sqlite3 CLI'), async () => {
      const lock = await lockDb(db);
      let r;
      try {
        r = await iamAuthToken(srv, { email: 'ana@example.com', password: P.ana });
      } finally {
        await lock.release();
      }
      assertIam(r, 500, 'user', 1200);
      assert.equal(r.json.message, 'Get user encountered DB error.');
      assert.ok(Array.isArray(r.json.traces) && r.json.traces.length === 1, r.text);
    });

    it('500 user/1200 when the users table is gone [SQLite only: a schema sabotaged with the sqlite3 CLI]', sqliteOnly('a schema sabotaged with the sqlite3 CLI'), async () => {
      sql(db, 'ALTER TABLE users RENAME TO users_gone;');
      try {
        assertIam(await iamAuthToken(srv, { email: 'ana@example.com', password: P.ana }), 500, 'user', 1200);
      } finally {
        sql(db, 'ALTER TABLE users_gone RENAME TO users;');
      }
    });

    it('500 session/201 when the store refuses the auth token [SQLite only: a trigger made with the sqlite3 CLI]', sqliteOnly('a trigger made with the sqlite3 CLI'), async () => {
      sql(db, "CREATE TRIGGER faces_no_token BEFORE INSERT ON secrets WHEN NEW.kind = 3 BEGIN SELECT RAISE(ABORT, 'faces test: no auth tokens'); END;");
      try {
        assertIam(await iamAuthToken(srv, { email: 'ana@example.com', password: P.ana }), 500, 'session', 201);
      } finally {
        sql(db, 'DROP TRIGGER faces_no_token;');
      }
      await authToken(srv, 'ana@example.com', P.ana);
    });

    it('500 session/204 when the store refuses the mailed code (and no mail goes out) [SQLite only: a trigger made with the sqlite3 CLI]', sqliteOnly('a trigger made with the sqlite3 CLI'), async () => {
      const sent = smtp.messages.length;
      sql(db, "CREATE TRIGGER faces_no_code BEFORE INSERT ON secrets WHEN NEW.kind = 5 BEGIN SELECT RAISE(ABORT, 'faces test: no codes'); END;");
      try {
        assertIam(await iamAuthToken(srv, { email: 'sue@strict.test', password: P.sue }, STRICT), 500, 'session', 204);
      } finally {
        sql(db, 'DROP TRIGGER faces_no_code;');
      }
      await sleep(200);
      assert.equal(smtp.messages.length, sent);
    });

    it('500 session/210 when the session cannot be saved [SQLite only: a schema sabotaged with the sqlite3 CLI]', sqliteOnly('a schema sabotaged with the sqlite3 CLI'), async () => {
      const t = await authToken(srv, 'ana@example.com', P.ana);
      sql(db, 'ALTER TABLE sessions RENAME TO sessions_gone;');
      try {
        assertIam(await iamSession(srv, { authToken: t.authToken }), 500, 'session', 210);
      } finally {
        sql(db, 'ALTER TABLE sessions_gone RENAME TO sessions;');
      }
    });
  });
});

describe('contract 001: mail delivery problems', { timeout: 60000 }, () => {
  const db = newDb();
  const P = pw();
  before(async () => {
    await mkTenant(db, 'strict', { mfaRequired: true });
    await mkUser(db, 'strict', 'sue@strict.test', P);
  });

  it('500 email/0 when the SMTP server is down', async () => {
    const port = await deadPort();
    const srv = await startFaceServer({ db, defaultTenant: 'strict', args: ['--smtp-url', `smtp://127.0.0.1:${port}`, '--smtp-timeout', '5'] });
    try {
      const r = await iamAuthToken(srv, { email: 'sue@strict.test', password: P });
      assertIam(r, 500, 'email', 0);
      assert.equal(r.json.message, 'Failed to send email.');
      assert.match(srv.out(), /"event":"email_failed"/);
    } finally {
      await srv.stop();
    }
  });

  it('500 session/207 when a code must be mailed but no SMTP server is configured', async () => {
    const srv = await startFaceServer({ db, defaultTenant: 'strict' });
    try {
      assertIam(await iamAuthToken(srv, { email: 'sue@strict.test', password: P }), 500, 'session', 207);
    } finally {
      await srv.stop();
    }
  });

  it('an auth token expires after challenge_ttl: session/2', async () => {
    const smtp = await startSmtp();
    const srv = await startFaceServer({ db, defaultTenant: 'strict', args: ['--smtp-url', smtp.url, '--challenge-ttl', '10'] });
    try {
      const t = await authToken(srv, 'sue@strict.test', P);
      const code = codeOfMail(await smtp.waitMessage(() => true));
      assert.match(smtp.messages[0].data, /within 1 minute\./);
      await sleep(11000);
      assertIam(await iamSession(srv, { authToken: t.authToken, otpCode: code }), 400, 'session', 2);
    } finally {
      await srv.stop();
      await smtp.close();
    }
  });
});

describe('contract 001: rate limits', { timeout: 60000 }, () => {
  let srv;
  const db = newDb();
  const P = pw();
  before(async () => {
    await mkTenant(db, 'acme');
    await mkUser(db, 'acme', 'ana@example.com', P);
    srv = await startFaceServer({ db, defaultTenant: 'acme', limits: true, args: ['--rl-account-burst', '1'] });
  });
  after(async () => {
    if (srv) await srv.stop();
  });

  it('429 rate-limit/0 + Retry-After once an account has used its burst', async () => {
    assertIam(await iamAuthToken(srv, { email: 'ana@example.com', password: 'Wrong-password-1' }), 400, 'session', 0);
    const r = await iamAuthToken(srv, { email: 'ana@example.com', password: P });
    assertIam(r, 429, 'rate-limit', 0);
    assert.deepEqual(r.json, { group: 'rate-limit', code: 0, message: 'Rate limit exceeded.' });
    assert.match(r.headers['retry-after'], /^[1-9][0-9]*$/);
  });
});
