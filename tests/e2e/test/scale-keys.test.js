// Issue 8 item 5 (and issue 7 item 10's tail): signing keys and TOTP
// secrets are stored sealed under a key file; a database alone cannot sign
// a token or compute a code, and a server given another key file refuses
// to start instead of making new keys.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import otplib from 'otplib';
import {
  startServer, newDb, mkTenant, mkUser, http, login, loginOk, me, pw, cli, cliOk, tmpDir,
  noteSecret, decodeJwt, sleep, sqliteOnly,
} from '../lib/server.js';

const { authenticator } = otplib;
const STEP = 30;
const stepNow = () => Math.floor(Date.now() / 1000 / STEP);
const codeAt = (secret, step) => authenticator.clone({ epoch: step * STEP * 1000 + 1000 }).generate(secret);
async function awayFromBoundary() {
  const left = STEP - ((Date.now() / 1000) % STEP);
  if (left < 8) await sleep(left * 1000 + 200);
}
/** Every byte SQLite may hold the data in: the file, its WAL and journal. */
function dbBytes(db) {
  return Buffer.concat(['', '-wal', '-journal', '-shm']
    .filter((x) => fs.existsSync(db + x))
    .map((x) => fs.readFileSync(db + x)));
}
const sql = (db, q) => execFileSync('sqlite3', [db, q], { encoding: 'utf8' }).trim();
const SEALED = /^tsk1\.[0-9a-f]{16}\.[A-Za-z0-9_-]+$/;

describe('key file [SQLite only: the default key file beside the database file, and the file read with sqlite3]', sqliteOnly('the default key file beside the database file, and the file read with sqlite3', { timeout: 180000 }), () => {
  const db = newDb();
  const P = pw();
  let srv;
  let secret;
  let token;
  before(async () => {
    await mkTenant(db, 'acme');
    await mkUser(db, 'acme', 'kim@example.com', P);
    await mkUser(db, 'acme', 'lee@example.com', P);
    srv = await startServer({ db, args: ['--default-tenant', 'acme'] });
  });
  after(async () => {
    if (srv) await srv.stop();
  });

  it('is made beside the database on first start: 32 bytes, mode 0600, logged once', async () => {
    const st = fs.statSync(db + '.key');
    assert.equal(st.mode & 0o777, 0o600);
    assert.equal(st.size, 32);
    const ev = srv.events().filter((e) => e.event === 'key_file_created');
    assert.equal(ev.length, 1, srv.out());
    assert.equal(ev[0].path, db + '.key');
  });

  it('the database holds no PEM private key and no TOTP base32 secret after enrolment', async () => {
    const a = await loginOk(srv, 'kim@example.com', P);
    token = a.token;
    const e = await http('POST', srv.url + '/v1/mfa/totp/enroll', { token: a.token });
    assert.equal(e.status, 200, e.text);
    secret = e.json.secret;
    noteSecret(secret);
    await awayFromBoundary();
    const c = await http('POST', srv.url + '/v1/mfa/totp/confirm', { token: a.token, json: { code: codeAt(secret, stepNow()) } });
    assert.equal(c.status, 200, c.text);
    const bytes = dbBytes(db).toString('latin1');
    assert.ok(!bytes.includes('PRIVATE KEY'), 'a PEM private key in the database files');
    assert.ok(!bytes.includes(secret.replace(/=+$/, '')), 'the TOTP secret in the database files');
    for (const v of sql(db, 'SELECT private_pem FROM signing_keys').split('\n')) assert.match(v, SEALED);
    assert.match(sql(db, 'SELECT secret_b32 FROM totp'), SEALED);
  });

  it('another key file: the server refuses to start with one clear line, and makes no key', async () => {
    const other = path.join(tmpDir(), 'other.key');
    fs.writeFileSync(other, crypto.randomBytes(32), { mode: 0o600 });
    const keysBefore = sql(db, 'SELECT count(*) FROM signing_keys');
    const r = await cli(['serve', '--listen', '127.0.0.1:0', '--key-file', other], { db });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const lines = r.stderr.split('\n').filter(Boolean);
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], new RegExp(`^tessera: key file ${other} \\(key id [0-9a-f]{16}\\) is not the one this database's secrets are sealed with \\(key id [0-9a-f]{16}\\); refusing to start: use the right --key-file$`));
    assert.equal(sql(db, 'SELECT count(*) FROM signing_keys'), keysBefore);
    // keys rotate reads the key file too
    const k = await cli(['keys', 'rotate', '--key-file', other], { db });
    assert.equal(k.code, 1);
    assert.match(k.stderr, /is not the one this database's secrets are sealed with/);
    assert.equal(sql(db, 'SELECT count(*) FROM signing_keys'), keysBefore);
  });

  it('a missing key file for a sealed database: refused, and no new key file is made', async () => {
    const gone = path.join(tmpDir(), 'gone.key');
    const r = await cli(['serve', '--listen', '127.0.0.1:0', '--key-file', gone], { db });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, new RegExp(`^tessera: key file ${gone} is missing, and this database's signing keys are sealed under key id [0-9a-f]{16}: start with the key file they were sealed with \\(--key-file\\)\\n$`));
    assert.equal(fs.existsSync(gone), false);
  });

  it('with the right key file, tokens and the TOTP secret keep working across a restart; keys rotate uses it', async () => {
    await srv.stop();
    fs.chmodSync(db + '.key', 0o640);   // told, not changed
    srv = await startServer({ db, args: ['--default-tenant', 'acme'] });
    const perm = srv.events().filter((e) => e.event === 'key_file_permissions');
    assert.equal(perm.length, 1, srv.out());
    assert.equal(perm[0].mode, '0640');
    assert.equal(fs.statSync(db + '.key').mode & 0o777, 0o640);
    fs.chmodSync(db + '.key', 0o600);
    assert.equal((await me(srv, token)).status, 200, 'a token signed before the restart');
    const l = await login(srv, 'kim@example.com', P);
    assert.equal(l.json.mfa_required, true, l.text);
    await awayFromBoundary();
    const ch = await http('POST', srv.url + '/v1/auth/mfa/challenge', { json: { challenge_id: l.json.challenge_id, method: 'totp', code: codeAt(secret, stepNow() + 1) } });
    assert.equal(ch.status, 200, ch.text);
    const kid = await cliOk(['keys', 'rotate', '--key-activation-delay', '0'], { db });
    assert.match(sql(db, `SELECT private_pem FROM signing_keys WHERE kid = '${kid}'`), SEALED);
    const l2 = await loginOk(srv, 'lee@example.com', P);
    assert.equal(decodeJwt(l2.token).header.kid, kid, 'the rotated key signs');
    assert.equal((await me(srv, l2.token)).status, 200);
  });
});

describe('a database from before sealing [SQLite only: the old rows are written with sqlite3]', sqliteOnly('the old rows are written with sqlite3', { timeout: 120000 }), () => {
  it('its clear keys and TOTP secrets are sealed on the first start, logged once; tokens go on verifying', async () => {
    const db = newDb();
    const P = pw();
    await mkTenant(db, 'acme');
    await mkUser(db, 'acme', 'old@example.com', P);
    let srv = await startServer({ db, args: ['--default-tenant', 'acme'] });
    await srv.stop();
    // Turn it into what an older build left: a clear PEM key, a clear
    // TOTP secret, no key file.
    const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' });
    const uid = sql(db, "SELECT id FROM users WHERE email_norm = 'old@example.com'");
    const b32 = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
    noteSecret(b32);
    sql(db, `DELETE FROM signing_keys; INSERT INTO signing_keys(kid, alg, private_pem, created_at) VALUES ('legacy', 'ES256', '${pem}', 1);` +
      // TOTP rows live in the factors table since migration 8 (totp is a view of them)
      `INSERT INTO factors(id, tenant_id, user_id, kind, data, confirmed, created_at) VALUES ('${crypto.randomUUID()}', ` +
      `(SELECT tenant_id FROM users WHERE id = '${uid}'), '${uid}', 1, '${b32}', 1, 1); VACUUM;`);
    fs.rmSync(db + '.key');
    srv = await startServer({ db, args: ['--default-tenant', 'acme'] });
    try {
      const ev = srv.events().filter((e) => e.event === 'secrets_sealed');
      assert.equal(ev.length, 1, srv.out());
      assert.equal(ev[0].signing_keys, 1);
      assert.equal(ev[0].totp_secrets, 1);
      assert.match(sql(db, "SELECT private_pem FROM signing_keys WHERE kid = 'legacy'"), SEALED);
      assert.match(sql(db, 'SELECT secret_b32 FROM totp'), SEALED);
      const l = await login(srv, 'old@example.com', P);
      await awayFromBoundary();
      const ch = await http('POST', srv.url + '/v1/auth/mfa/challenge', { json: { challenge_id: l.json.challenge_id, method: 'totp', code: codeAt(b32, stepNow()) } });
      assert.equal(ch.status, 200, ch.text);
      assert.equal(decodeJwt(ch.json.token).header.kid, 'legacy', 'the sealed legacy key signs');
      await srv.stop();
      srv = await startServer({ db, args: ['--default-tenant', 'acme'] });
      assert.deepEqual(srv.events().filter((e) => e.event === 'secrets_sealed'), [], 'sealed once');
      assert.equal((await me(srv, ch.json.token)).status, 200);
    } finally {
      await srv.stop();
    }
  });
});
