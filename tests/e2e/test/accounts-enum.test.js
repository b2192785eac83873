// Self-service accounts (issue 9): no enumeration by status, body or time
// for register, resend and forgot; and the mail outbox: a mail server that
// is down delays mail and loses none (across a restart too), and with two
// nodes on one store each mail goes out once.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startServer, http, newDb, cliOk, mkUser, sleep, IS_ASAN } from '../lib/server.js';
import { startMail, freePort } from '../lib/mail.js';

const longPw = () => 'correct horse battery ' + crypto.randomBytes(6).toString('hex');
const addr = (tag = 'u') => `${tag}-${crypto.randomBytes(5).toString('hex')}@example.org`;
const post = (srv, path, json) => http('POST', srv.url + path, { json });

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** ms of one request, and its answer. */
async function timed(fn) {
  const t = process.hrtime.bigint();
  const r = await fn();
  return { ms: Number(process.hrtime.bigint() - t) / 1e6, r };
}

/** The answer as a client sees it, less what differs per request. */
const shape = (r) => ({ status: r.status, body: r.text, type: r.headers['content-type'], length: r.headers['content-length'] });

/**
 * Interleaved samples of a (known) and b (unknown); asserts their medians
 * are within a generous bound: a quarter of the larger plus 2 ms (4 ms on
 * the sanitizer build). What it catches: a register that skips the hash
 * for a taken address (the hash is most of its time), and a forgot or
 * resend that delivers the mail before answering (an SMTP round trip);
 * not differences below the machine's noise (a single store statement).
 */
async function compareTimes(what, n, a, b) {
  const ta = [], tb = [];
  for (let i = 0; i < 3; i++) { await a(); await b(); } // warm up
  for (let i = 0; i < n; i++) {
    const first = i % 2 ? a : b, second = i % 2 ? b : a;
    const x = await timed(first), y = await timed(second);
    (i % 2 ? ta : tb).push(x.ms);
    (i % 2 ? tb : ta).push(y.ms);
  }
  const ma = median(ta), mb = median(tb);
  const bound = Math.max(ma, mb) * 0.25 + (IS_ASAN ? 4 : 2);
  assert.ok(Math.abs(ma - mb) <= bound,
    `${what}: median ${ma.toFixed(2)} ms (known) vs ${mb.toFixed(2)} ms (unknown), bound ${bound.toFixed(2)} ms`);
  console.error(`TIMING ${what} ${ma.toFixed(2)} ${mb.toFixed(2)}`);
  return { ma, mb };
}

describe('self-service accounts: no enumeration', () => {
  let mail, db, srv, known, unverified;

  before(async () => {
    mail = await startMail();
    db = newDb();
    await cliOk(['tenant', 'add', 'open', '--registration-open'], { db });
    known = addr('known');
    unverified = addr('unverified');
    await mkUser(db, 'open', known, longPw());
    await mkUser(db, 'open', unverified, longPw(), { verified: false });
    srv = await startServer({
      db,
      args: ['--smtp-url', mail.url, '--public-url', 'https://id.example.test', '--default-tenant', 'open'],
    });
  });
  after(async () => {
    await srv?.stop();
    await mail?.stop();
  });

  it('register: the same status and body for a new address, a verified one and an unverified one', async () => {
    const answers = [];
    for (const email of [addr('new'), known, unverified]) {
      answers.push(shape(await post(srv, '/v1/auth/register', { email, password: longPw() })));
    }
    assert.equal(answers[0].status, 202);
    assert.deepEqual(answers[1], answers[0]);
    assert.deepEqual(answers[2], answers[0]);
    // and the owners heard of it in their own way
    assert.equal((await mail.next((m) => m.to === known)).subject, 'You already have an account');
    assert.equal((await mail.next((m) => m.to === unverified)).subject, 'Confirm your email address');
  });

  it('resend and forgot: the same status and body for known, unverified and unknown addresses and tenants', async () => {
    for (const path of ['/v1/auth/verify/resend', '/v1/auth/password/forgot']) {
      const bodies = [
        { email: known }, { email: unverified }, { email: addr('nobody') },
        { email: known, tenant_slug: 'no-such-tenant' }, { email: addr('nobody'), tenant_slug: 'no-such-tenant' },
      ];
      const answers = [];
      for (const b of bodies) answers.push(shape(await post(srv, path, b)));
      assert.equal(answers[0].status, 202, path);
      for (const a of answers.slice(1)) assert.deepEqual(a, answers[0], path);
    }
  });

  it('register takes the same time for a taken address as for a new one (the password is hashed either way)', async () => {
    await compareTimes('register', IS_ASAN ? 16 : 30,
      () => post(srv, '/v1/auth/register', { email: known, password: longPw() }),
      () => post(srv, '/v1/auth/register', { email: addr('fresh'), password: longPw() }));
  });

  it('forgot takes the same time for a known address as for an unknown one', async () => {
    await compareTimes('forgot', IS_ASAN ? 30 : 60,
      () => post(srv, '/v1/auth/password/forgot', { email: known }),
      () => post(srv, '/v1/auth/password/forgot', { email: addr('nobody') }));
  });

  it('resend takes the same time for an unverified address as for an unknown one', async () => {
    await compareTimes('resend', IS_ASAN ? 30 : 60,
      () => post(srv, '/v1/auth/verify/resend', { email: unverified }),
      () => post(srv, '/v1/auth/verify/resend', { email: addr('nobody') }));
  });
});

describe('the mail outbox', () => {
  it('a mail server that is down delays mail and loses none, across a restart too', async () => {
    const port = await freePort();
    const db = newDb();
    await cliOk(['tenant', 'add', 'open', '--registration-open'], { db });
    const email = addr('patient'), late = addr('late');
    await mkUser(db, 'open', email, longPw());
    await mkUser(db, 'open', late, longPw());
    const args = ['--smtp-url', `smtp://127.0.0.1:${port}`, '--smtp-timeout', '1', '--mail-retry', '1',
      '--mail-poll', '1', '--default-tenant', 'open', '--public-url', 'https://id.example.test'];
    let srv = await startServer({ db, args });
    let mail;
    try {
      // SMTP is down at request time: the answer does not wait for it
      const r = await post(srv, '/v1/auth/password/forgot', { email });
      assert.equal(r.status, 202);
      await srv.waitLine((l) => l.includes('"mail_deferred"'), 10000);
      // another request, then the node goes away before any delivery
      assert.equal((await post(srv, '/v1/auth/password/forgot', { email: late })).status, 202);
      await srv.stop();
      mail = await startMail({ port });
      srv = await startServer({ db, args });
      const m = await mail.next((x) => x.to === email, 30000);
      assert.equal(m.subject, 'Reset your password');
      assert.ok(m.link.startsWith('https://id.example.test/reset?token='));
      const m2 = await mail.next((x) => x.to === late, 30000);
      assert.equal(m2.subject, 'Reset your password');
      // the delayed link still works
      assert.equal((await post(srv, '/v1/auth/password/reset', { token: m.token, password: longPw() })).status, 204);
      await mail.none((x) => x.to === email && x.subject === 'Reset your password', 2500);
    } finally {
      await srv.stop();
      await mail?.stop();
    }
  });

  it('two nodes on one store: every mail goes out exactly once', async () => {
    const mail = await startMail();
    const db = newDb();
    await cliOk(['tenant', 'add', 'open', '--registration-open'], { db });
    const args = ['--smtp-url', mail.url, '--mail-poll', '1', '--default-tenant', 'open'];
    const users = [];
    for (let i = 0; i < 6; i++) {
      users.push(addr(`n${i}`));
      await mkUser(db, 'open', users[i], longPw());
    }
    const a = await startServer({ db, args }), b = await startServer({ db, args });
    try {
      await Promise.all(users.map((email, i) => post(i % 2 ? a : b, '/v1/auth/password/forgot', { email })));
      for (const email of users) await mail.next((x) => x.to === email, 20000);
      await sleep(2500);
      const per = users.map((email) => mail.mails.filter((m) => m.to === email).length);
      assert.deepEqual(per, users.map(() => 1), `mails per address: ${per}`);
    } finally {
      await a.stop();
      await b.stop();
      await mail.stop();
    }
  });
});
