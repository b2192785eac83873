// Logs (issue 12): --log-format text, the request id on every line a
// request writes and in X-Request-Id (a trusted proxy's when valid, never
// a client's), and --audit-log FILE taking the audit events off the main
// stream, with no secret in either.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  startServer, newDb, mkTenant, mkUser, pw, rnd, http, login, loginOk, refresh, tmpDir,
  leakedSecrets, cli,
} from '../lib/server.js';

const OURS = /^[0-9a-f]{16}$/;

async function userServer(args = [], opts = {}) {
  const db = newDb();
  const slug = `l${rnd(6)}`;
  await mkTenant(db, slug);
  const email = `u${rnd(6)}@example.com`;
  const pass = pw();
  await mkUser(db, slug, email, pass);
  const srv = await startServer({ db, ...opts, args: ['--default-tenant', slug, ...args] });
  return { srv, db, slug, email, pass };
}

/** Waits for the access line of request id, so every line of it is in. */
async function linesOf(srv, id) {
  await srv.waitLine((l) => l.includes('"event":"request"') && l.includes(`"request_id":"${id}"`), 5000);
  return srv.events().filter((e) => e.request_id === id);
}

test('--log-format text: every line is TIME LEVEL event=... key=value, a request\'s lines carry its id', async () => {
  const { srv, email } = await userServer(['--log-format', 'text']);
  try {
    const r = await login(srv, email, 'wrong password "quoted"');
    assert.equal(r.status, 401);
    const id = r.headers['x-request-id'];
    assert.match(id, OURS);
    await srv.waitLine((l) => l.includes(' event=request ') && l.includes(`request_id=${id}`), 5000);
    const lines = srv.out().split('\n').filter((l) => /^\d{4}-/.test(l));
    assert.ok(lines.length >= 3, srv.out());
    for (const l of lines) {
      assert.match(l, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (debug|info|warn|error) event=[a-z_]+( [a-z_]+=("([^"\\]|\\.)*"|[^ "]+))*$/, l);
      assert.equal(l.startsWith('{'), false);
    }
    const failed = lines.find((l) => l.includes(' event=login_failed '));
    assert.ok(failed, srv.out());
    assert.match(failed, new RegExp(` event=login_failed request_id=${id} .*reason=credentials`));
    const access = lines.find((l) => l.includes(' event=request ') && l.includes(id));
    assert.match(access, new RegExp(`^\\S+ info event=request request_id=${id} method=POST path=/v1/auth/login status=401 ms=\\d+ ip=127\\.0\\.0\\.1 note=invalid_credentials$`));
    // A value with spaces is quoted.
    assert.ok(lines.some((l) => / warn event=config_smtp_missing setting=smtp_url effect="no mailed codes: [^"]+"$/.test(l)), srv.out());
    assert.doesNotMatch(srv.out(), /wrong password/);
  } finally {
    await srv.stop();
  }
});

test('request ids: every line of a request carries it; a client\'s X-Request-Id is ignored, a trusted proxy\'s taken when valid', async () => {
  // Untrusted peer: its id is never used.
  const u = await userServer();
  try {
    const r = await login(u.srv, u.email, 'nope-nope', {}, { headers: { 'X-Request-Id': 'client-chosen-1' } });
    const id = r.headers['x-request-id'];
    assert.match(id, OURS);
    const lines = await linesOf(u.srv, id);
    assert.deepEqual(lines.map((e) => e.event).sort(), ['login_failed', 'request']);
    assert.equal(u.srv.out().includes('client-chosen-1'), false);
  } finally {
    await u.srv.stop();
  }

  const t = await userServer(['--trusted-proxies', '127.0.0.1']);
  try {
    const good = 'proxy.req-42:a_B';
    const r = await login(t.srv, t.email, t.pass, {}, { headers: { 'X-Request-Id': good } });
    assert.equal(r.status, 200);
    assert.equal(r.headers['x-request-id'], good);
    // Its lines ran on the event thread, a store worker (TESSERA_STORE_DEFER)
    // and a hashing worker: every one carries the id.
    const events = (await linesOf(t.srv, good)).map((e) => e.event);
    for (const e of ['login_password_ok', 'session_start', 'request']) assert.ok(events.includes(e), events.join());
    const max = 'a'.repeat(64);
    assert.equal((await http('GET', `${t.srv.url}/healthz`, { headers: { 'X-Request-Id': max } })).headers['x-request-id'], max);
    for (const bad of ['a'.repeat(65), 'has space', 'quo"te', 'semi;colon', 'slash/x', 'caf\u00e9', '']) {
      const h = await http('GET', `${t.srv.url}/healthz`, { headers: { 'X-Request-Id': bad } });
      assert.equal(h.status, 200);
      assert.match(h.headers['x-request-id'], OURS, `${JSON.stringify(bad)} was not replaced`);
      await linesOf(t.srv, h.headers['x-request-id']);
    }
    assert.equal(t.srv.events().some((e) => e.request_id === 'a'.repeat(65)), false);
  } finally {
    await t.srv.stop();
  }
});

test('--audit-log FILE: the audit events go there (0600), the main log keeps the rest, neither holds a secret', async () => {
  const dir = tmpDir();
  const file = path.join(dir, 'audit.log');
  const { srv, db, slug, email, pass } = await userServer(['--audit-log', file, '--refresh-reuse-interval', '0']);
  try {
    assert.equal((await login(srv, email, 'wrong-pass-1')).status, 401);
    const t = await loginOk(srv, email, pass);
    const n = await refresh(srv, t.refresh_token);
    assert.equal(n.status, 200);
    assert.equal((await refresh(srv, t.refresh_token)).status, 401); // reuse
    const t2 = await loginOk(srv, email, pass); // the reuse ended the first session
    const last = await http('POST', `${srv.url}/v1/auth/logout`, { token: t2.token });
    assert.equal(last.status, 204, last.text);
    const lastId = last.headers['x-request-id'];
    await srv.waitLine((l) => l.includes(`"request_id":"${lastId}"`) && l.includes('"event":"request"'), 5000);
  } finally {
    await srv.stop();
  }
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  const audit = fs.readFileSync(file, 'utf8');
  const events = audit.trim().split('\n').map((l) => JSON.parse(l));
  const names = events.map((e) => e.event);
  for (const e of ['login_failed', 'login_password_ok', 'session_start', 'refresh_reuse', 'logout']) {
    assert.ok(names.includes(e), `${e} missing from the audit file: ${names.join()}`);
  }
  for (const e of events) {
    assert.ok(/^(login_|account_|mfa_|password_|session_|enroll_|iam_token_)|^(logout|refresh_reuse)$/.test(e.event), e.event);
    assert.match(e.request_id, OURS);
  }
  const main = srv.events();
  assert.ok(main.some((e) => e.event === 'request'));
  assert.equal(main.filter((e) => names.includes(e.event)).length, 0, 'an audit event stayed in the main log');
  assert.deepEqual(leakedSecrets(audit), []);
  assert.equal(audit.includes(pass) || audit.includes('wrong-pass-1') || audit.includes(email), false);

  // An administration command appends its audit event to the same file.
  const before = audit.length;
  const r = await cli(['user', 'password', '--tenant', slug, '--email', email, '--audit-log', file],
    { db, input: `${pw()}\n` });
  assert.equal(r.code, 0, r.stderr);
  const added = fs.readFileSync(file, 'utf8').slice(before).trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(added.map((e) => e.event), ['password_set']);
  assert.equal(r.stderr.includes('password_set'), false);
});

test('a bad --log-format or an audit log that cannot be opened: one line, exit 1', async () => {
  const a = await cli(['serve', '--log-format', 'xml', '--listen', '127.0.0.1:0'], { db: path.join(tmpDir(), 'x.db') });
  assert.equal(a.code, 1);
  assert.equal(a.stderr.trim(), "tessera: log-format: 'xml' is not json or text");
  const b = await cli(['serve', '--audit-log', '/nonexistent-dir/a.log', '--listen', '127.0.0.1:0'], { db: path.join(tmpDir(), 'x.db') });
  assert.equal(b.code, 1);
  assert.equal(b.stderr.trim(), 'tessera: audit-log /nonexistent-dir/a.log: No such file or directory');
});
