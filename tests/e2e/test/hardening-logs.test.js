// Issue 7, "Logs": numbers are JSON numbers; one vocabulary of reasons;
// account events name the account by user id (never email, password, token
// or code); --log-level debug adds the decision trail of a password login;
// a missing SMTP server is one start-up warning.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import otplib from 'otplib';
import {
  startServer, newDb, mkTenant, mkUser, http, login, loginOk, pw, noteSecret, UUID_RE, sleep,
} from '../lib/server.js';

/** The server's events named name once there are n of them (a log line may
 * reach us after the response it was written before); at most 3 s. */
async function eventsOf(srv, name, n) {
  const of = () => srv.events().filter((e) => e.event === name);
  for (let i = 0; i < 30 && of().length < n; i++) await sleep(100);
  return of();
}

const { authenticator } = otplib;
// The one vocabulary (src/auth/audit.h, docs/ARCHITECTURE.md "Logs").
const REASONS = new Set(['tenant', 'credentials', 'disabled', 'unverified', 'locked', 'rate_address', 'rate_account', 'code', 'challenge']);

describe('log lines', { timeout: 120000 }, () => {
  const db = newDb();
  const P = { ann: pw(), bob: pw(), cy: pw() };
  const ids = {};
  let srv;
  before(async () => {
    await mkTenant(db, 'acme');
    ids.ann = await mkUser(db, 'acme', 'ann@example.com', P.ann);
    ids.bob = await mkUser(db, 'acme', 'bob@example.com', P.bob);
    ids.cy = await mkUser(db, 'acme', 'cy@example.com', P.cy, { verified: false });
    srv = await startServer({ db, args: ['--default-tenant', 'acme', '--lock-after', '2'] });
  });
  after(async () => {
    if (srv) await srv.stop();
  });
  const events = (name, n = 1) => eventsOf(srv, name, n);

  it('request, listening: status, ms and port are JSON numbers', async () => {
    assert.equal((await http('GET', srv.url + '/healthz')).status, 200);
    const r = (await events('request')).at(-1);
    assert.equal(r.status, 200);
    assert.equal(typeof r.ms, 'number');
    assert.ok(Number.isInteger(r.ms) && r.ms >= 0);
    const l = (await events('listening'))[0];
    assert.equal(l.port, srv.port);
  });

  it('no SMTP configured: one start-up warning naming the setting', async () => {
    const w = await events('config_smtp_missing');
    assert.equal(w.length, 1, srv.out());
    assert.equal(w[0].level, 'warn');
    assert.equal(w[0].setting, 'smtp_url');
  });

  it('login_failed: a known account by its user id, an unknown one by its tenant only', async () => {
    assert.equal((await login(srv, 'ann@example.com', 'wrong-password-1')).status, 401);
    assert.equal((await login(srv, 'nobody@example.com', 'wrong-password-2')).status, 401);
    assert.equal((await login(srv, 'cy@example.com', P.cy)).status, 403);
    const f = await events('login_failed', 3);
    assert.equal(f.length, 3, srv.out());
    assert.deepEqual(f.map((e) => [e.tenant, e.reason, e.user]), [
      ['acme', 'credentials', ids.ann],
      ['acme', 'credentials', undefined],
      ['acme', 'unverified', ids.cy],
    ]);
    assert.ok(!('user' in f[1]), 'no user key at all for an unknown account');
    for (const e of f) assert.ok(REASONS.has(e.reason), e.reason);
  });

  it('account_locked: failures is a number and the account is named by user id', async () => {
    assert.equal((await login(srv, 'bob@example.com', 'wrong-password-3')).status, 401);
    assert.equal((await login(srv, 'bob@example.com', 'wrong-password-4')).status, 401);
    const l = await events('account_locked');
    assert.equal(l.length, 1, srv.out());
    assert.equal(l[0].failures, 2);
    assert.equal(l[0].user, ids.bob);
    assert.equal(l[0].tenant, 'acme');
    assert.match(l[0].until, /^\d{4}-\d\d-\d\dT/);
    assert.equal((await login(srv, 'bob@example.com', P.bob)).status, 429);
    const t = (await events('login_throttled')).at(-1);
    assert.equal(t.reason, 'locked');
    assert.ok(REASONS.has(t.reason));
  });

  it('mfa_failed: user id, method and a reason of the vocabulary, never the code', async () => {
    const a = await loginOk(srv, 'ann@example.com', P.ann);
    const en = await http('POST', srv.url + '/v1/mfa/totp/enroll', { token: a.token });
    assert.equal(en.status, 200, en.text);
    const secret = en.json.secret;
    noteSecret(secret);
    const ok = await http('POST', srv.url + '/v1/mfa/totp/confirm', { token: a.token, json: { code: authenticator.generate(secret) } });
    assert.equal(ok.status, 200, ok.text);
    const ch = await login(srv, 'ann@example.com', P.ann);
    assert.equal(ch.json.mfa_required, true, ch.text);
    const good = authenticator.generate(secret);
    const wrong = String((Number(good) + 500000) % 1000000).padStart(6, '0');
    const r = await http('POST', srv.url + '/v1/auth/mfa/challenge', { json: { challenge_id: ch.json.challenge_id, method: 'totp', code: wrong } });
    assert.equal(r.status, 401, r.text);
    const m = await events('mfa_failed');
    assert.equal(m.length, 1, srv.out());
    assert.equal(m[0].user, ids.ann);
    assert.equal(m[0].method, 'totp');
    assert.equal(m[0].reason, 'code');
    assert.equal(m[0].tries, 1);
    assert.ok(!srv.out().includes(wrong), 'the code is never logged');
  });
});

describe('--log-level debug', { timeout: 60000 }, () => {
  const db = newDb();
  const P = pw();
  let id;
  let srv;
  before(async () => {
    await mkTenant(db, 'acme');
    id = await mkUser(db, 'acme', 'dee@example.com', P);
    srv = await startServer({ db, args: ['--default-tenant', 'acme', '--log-level', 'debug'] });
  });
  after(async () => {
    if (srv) await srv.stop();
  });

  it('a password login leaves its decision trail, without email or password', async () => {
    await loginOk(srv, 'dee@example.com', P);
    const steps = await eventsOf(srv, 'login_step', 5);
    assert.deepEqual(steps.map((e) => [e.step, e.result]), [
      ['lock', 'open'],
      ['tenant', 'resolved'],
      ['user', 'found'],
      ['verify', 'ok'],
      ['next', 'session'],
    ]);
    for (const e of steps) {
      assert.equal(e.level, 'debug');
      assert.equal(e.tenant, 'acme');
    }
    assert.equal(steps[0].user, undefined);
    assert.equal(steps[2].user, id);
    assert.match(steps[2].user, UUID_RE);
    assert.equal((await login(srv, 'nobody@example.com', 'wrong-password-5')).status, 401);
    const more = (await eventsOf(srv, 'login_step', 8)).slice(5);
    assert.deepEqual(more.map((e) => [e.step, e.result]), [
      ['lock', 'open'],
      ['tenant', 'resolved'],
      ['user', 'not_found'],
    ]);
    assert.ok(!('user' in more[2]));
    assert.ok(!srv.out().includes('dee@example.com') && !srv.out().includes('nobody@example.com'), 'no email in the logs');
  });
});
