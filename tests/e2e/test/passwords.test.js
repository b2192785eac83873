// Issue 9, passwords: the password policy (NIST SP 800-63B rev. 4 §3.1.1)
// through the CLI with its exact reasons; NFKC at set and at login (two
// Unicode forms of one password log in); and `tessera user import|export`
// with hashes made, here in the test, by tools no one here wrote (mkpasswd
// from Debian's whois, Python's hashlib, the argon2 CLI), then logins with
// each through the real server and the rehash to argon2id seen in the
// store. Runs on both stores (TESSERA_E2E_STORE=postgres).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import {
  newDb, mkTenant, mkUser, cli, cliOk, startServer, login, loginOk, noteSecret, sqlQuery,
  tmpDir, assertError, rnd,
} from '../lib/server.js';

const long = () => 'correct horse battery ' + crypto.randomBytes(6).toString('hex');
const refused = (r, re, what) => {
  assert.equal(r.code, 1, `${what}: exit ${r.code}\n${r.stderr}`);
  assert.equal(r.stdout, '', `${what}: stdout`);
  assert.match(r.stderr, re, what);
};

describe('password policy through the CLI', { timeout: 60000 }, () => {
  const db = newDb();
  before(async () => {
    await mkTenant(db, 'acme');
    await mkTenant(db, 'strict', { mfaRequired: true });
  });
  const add = (tenant, email, pw) =>
    cli(['user', 'add', '--tenant', tenant, '--email', email], { db, input: pw + '\n' });

  it('15 characters where the password is the only factor, 8 where MFA is required', async () => {
    refused(await add('acme', 'ann@example.com', 'zebra quilt 12'),
      /^tessera: password refused \(too_short\): tenant acme needs at least 15 characters\n$/, '14 chars');
    noteSecret('zebra quilt 123');
    await mkUser(db, 'acme', 'ann@example.com', 'zebra quilt 123');
    refused(await add('strict', 'sue@strict.test', 'zq8!vb7'),
      /^tessera: password refused \(too_short\): tenant strict needs at least 8 characters\n$/, '7 chars, MFA');
    noteSecret('zq8!vb7k');
    await mkUser(db, 'strict', 'sue@strict.test', 'zq8!vb7k');
    // characters, not bytes: fifteen two-byte letters are fifteen
    noteSecret('ééééééééééééééé');
    await mkUser(db, 'acme', 'accents@example.com', 'ééééééééééééééé');
    // counted after NFKC: e + combining acute is one character
    refused(await add('acme', 'combining@example.com', 'e\u0301'.repeat(14)), /\(too_short\)/, 'decomposed');
    refused(await add('acme', 'big@example.com', 'x'.repeat(1025)), /^tessera: password refused \(too_long\): at most 1024 bytes\n$/, '1025 bytes');
  });

  it('common and breached passwords are refused whatever their case or Unicode form', async () => {
    const re = /^tessera: password refused \(common\): it is on the list of common and breached passwords\n$/;
    refused(await add('strict', 'c1@strict.test', 'iloveyou'), re, 'iloveyou');
    refused(await add('strict', 'c2@strict.test', 'PassWord1'), re, 'PassWord1');
    refused(await add('strict', 'c3@strict.test', 'ｐａｓｓｗｏｒｄ１'), re, 'full-width');
  });

  it('context words: the address, the tenant slug, the service; short words are ignored', async () => {
    const re = /^tessera: password refused \(context\): it contains part of the address, the tenant's slug or the service's name\n$/;
    refused(await add('acme', 'margaret.hale@north-wind.example', 'my name is Margaret 99'), re, 'local part piece');
    refused(await add('acme', 'margaret.hale@north-wind.example', 'windy days are here'), re, 'domain label piece');
    refused(await add('acme', 'mh@example.com', 'I work at ACME corporation'), re, 'tenant slug');
    refused(await add('acme', 'mh@example.com', 'tessera is my login'), re, 'service name');
    // "mh", "com" and "io" are under 4 characters: not context words
    const ok = 'mh writes .com and io code';
    noteSecret(ok);
    await mkUser(db, 'acme', 'mh@example.com', ok);
  });

  it('user password applies the same policy with the same reasons', async () => {
    const set = (pw) => cli(['user', 'password', '--tenant', 'acme', '--email', 'ann@example.com'], { db, input: pw + '\n' });
    refused(await set('short pass'), /\(too_short\): tenant acme needs at least 15/, 'short');
    refused(await set('an example of a passphrase'), /\(context\)/, 'context');
    const np = long();
    noteSecret(np);
    assert.match(await cliOk(['user', 'password', '--tenant', 'acme', '--email', 'ann@example.com'], { db, input: np + '\n' }),
      /^set a new password for ann@example.com in tenant acme$/);
  });
});

describe('NFKC: one password typed in two Unicode forms', { timeout: 60000 }, () => {
  let srv;
  const db = newDb();
  const composed = 'caf\u00e9 cr\u00e8me br\u00fbl\u00e9e ' + rnd(6);
  const decomposed = composed.normalize('NFD');
  const wide = '\uff21\uff22\uff23\uff44\uff45\uff46 wide form ' + rnd(6);
  const ascii = wide.normalize('NFKC');
  before(async () => {
    assert.notEqual(composed, decomposed);
    assert.notEqual(wide, ascii);
    for (const s of [composed, decomposed, wide, ascii]) noteSecret(s);
    await mkTenant(db, 'acme');
    await mkUser(db, 'acme', 'nfc@example.com', composed);
    await mkUser(db, 'acme', 'fw@example.com', wide);
    srv = await startServer({ db });
  });
  after(async () => srv && srv.stop());

  it('set composed, log in decomposed (and as set)', async () => {
    await loginOk(srv, 'nfc@example.com', decomposed, { tenant_slug: 'acme' });
    await loginOk(srv, 'nfc@example.com', composed, { tenant_slug: 'acme' });
  });

  it('set full-width, log in with ASCII letters; another case is another password', async () => {
    await loginOk(srv, 'fw@example.com', ascii, { tenant_slug: 'acme' });
    assertError(await login(srv, 'fw@example.com', ascii.toLowerCase(), { tenant_slug: 'acme' }), 401, 'invalid_credentials');
  });

  it('a new password set through the CLI in one form logs in in the other', async () => {
    await cliOk(['user', 'password', '--tenant', 'acme', '--email', 'nfc@example.com'], { db, input: decomposed.toUpperCase() + '\n' });
    noteSecret(decomposed.toUpperCase());
    noteSecret(composed.toUpperCase());
    await loginOk(srv, 'nfc@example.com', composed.toUpperCase(), { tenant_slug: 'acme' });
  });
});

// ---- foreign hashes, made by real tools ----

const PW = 'imported passphrase ' + crypto.randomBytes(5).toString('hex');
noteSecret(PW);

function mkpasswd(method, rounds) {
  const args = ['-m', method, '--stdin'];
  if (rounds) args.push('-R', String(rounds));
  return execFileSync('mkpasswd', args, { input: PW, encoding: 'utf8' }).trim();
}

// Django's documented format: algorithm$iterations$salt$base64(hash), salt
// used as text (django/contrib/auth/hashers.py PBKDF2PasswordHasher).
function django(alg, iterations) {
  return execFileSync('python3', ['-c', `
import hashlib, base64, sys, secrets, string
salt = ''.join(secrets.choice(string.ascii_letters + string.digits) for _ in range(22))
d = hashlib.pbkdf2_hmac('${alg}', sys.stdin.read().encode(), salt.encode(), ${iterations})
print('pbkdf2_${alg}$%d$%s$%s' % (${iterations}, salt, base64.b64encode(d).decode()))
`], { input: PW, encoding: 'utf8' }).trim();
}

// Keycloak's exported credential: secretData {value, salt} (base64) and
// credentialData {hashIterations, algorithm}, turned into our one line
// keycloak-<algorithm>$<hashIterations>$<salt>$<value>. The derived key is
// 64 bytes (Keycloak's Pbkdf2PasswordHashProvider default, 512 bits).
function keycloak(alg, iterations) {
  const out = execFileSync('python3', ['-c', `
import hashlib, base64, sys, os, json
salt = os.urandom(16)
value = hashlib.pbkdf2_hmac('${alg}', sys.stdin.read().encode(), salt, ${iterations}, 64)
print(json.dumps({'type': 'password',
  'secretData': json.dumps({'value': base64.b64encode(value).decode(), 'salt': base64.b64encode(salt).decode(), 'additionalParameters': {}}),
  'credentialData': json.dumps({'hashIterations': ${iterations}, 'algorithm': 'pbkdf2-${alg}', 'additionalParameters': {}})}))
`], { input: PW, encoding: 'utf8' });
  const cred = JSON.parse(out);
  const secret = JSON.parse(cred.secretData);
  const data = JSON.parse(cred.credentialData);
  return `keycloak-${data.algorithm}$${data.hashIterations}$${secret.salt}$${secret.value}`;
}

// passlib's scrypt format, $scrypt$ln=,r=,p=$salt$hash (base64, no padding),
// computed by Python's hashlib.scrypt (OpenSSL's EVP_PBE_scrypt).
function scrypt(ln, r, p) {
  return execFileSync('python3', ['-c', `
import hashlib, base64, sys, os
salt = os.urandom(16)
b = lambda x: base64.b64encode(x).decode().rstrip('=')
d = hashlib.scrypt(sys.stdin.read().encode(), salt=salt, n=2**${ln}, r=${r}, p=${p}, dklen=32, maxmem=2**28)
print('$scrypt$ln=${ln},r=${r},p=${p}$' + b(salt) + '$' + b(d))
`], { input: PW, encoding: 'utf8' }).trim();
}

function argon2(kind, t, mlog, p) {
  return execFileSync('argon2', [crypto.randomBytes(12).toString('hex'), `-${kind}`, '-t', String(t), '-m', String(mlog), '-p', String(p), '-e'],
    { input: PW, encoding: 'utf8' }).trim();
}

const jsonl = (rows) => rows.map((r) => (typeof r === 'string' ? r : JSON.stringify(r))).join('\n') + '\n';

describe('user import: hashes from other systems log in and are rehashed', { timeout: 180000 }, () => {
  let srv;
  const db = newDb();
  const dir = tmpDir();
  const made = {
    bcrypt_2b: mkpasswd('bcrypt', 5),
    bcrypt_2a: mkpasswd('bcrypt-a', 5),
    bcrypt_2y: mkpasswd('bcrypt', 5).replace(/^\$2b\$/, '$2y$'),
    sha512crypt: mkpasswd('sha512crypt'),
    sha512crypt_rounds: mkpasswd('sha512crypt', 20000),
    yescrypt: mkpasswd('yescrypt'),
    django_sha256: django('sha256', 100000),
    django_sha512: django('sha512', 50000),
    keycloak_sha256: keycloak('sha256', 27500),
    keycloak_sha512: keycloak('sha512', 27500),
    scrypt: scrypt(14, 8, 1),
    argon2id: argon2('id', 2, 12, 1),
    argon2i: argon2('i', 3, 12, 2),
  };
  const email = (k) => `${k.replace(/_/g, '-')}@imported.test`;

  before(async () => {
    assert.match(made.bcrypt_2b, /^\$2b\$05\$/);
    assert.match(made.bcrypt_2a, /^\$2a\$05\$/);
    assert.match(made.sha512crypt, /^\$6\$/);
    assert.match(made.sha512crypt_rounds, /^\$6\$rounds=20000\$/);
    assert.match(made.yescrypt, /^\$y\$j9T\$/);
    assert.match(made.argon2i, /^\$argon2i\$v=19\$m=4096,t=3,p=2\$/);
    await mkTenant(db, 'acme');
    const file = path.join(dir, 'users.jsonl');
    fs.writeFileSync(file, jsonl(Object.keys(made).map((k, i) => ({
      email: email(k), password_hash: made[k], is_verified: true, is_admin: i === 0,
      created_at: '2021-03-04T05:06:07Z',
    }))));
    assert.equal(await cliOk(['user', 'import', '--tenant', 'acme', file], { db }),
      `imported ${Object.keys(made).length} users into tenant acme; 0 bad lines skipped`);
    srv = await startServer({ db });
  });
  after(async () => srv && srv.stop());

  for (const k of [
    'bcrypt_2b', 'bcrypt_2a', 'bcrypt_2y', 'sha512crypt', 'sha512crypt_rounds', 'yescrypt', 'django_sha256',
    'django_sha512', 'keycloak_sha256', 'keycloak_sha512', 'scrypt', 'argon2id', 'argon2i',
  ]) {
    it(`${k}: the password logs in, a wrong one does not, then the hash is Tessera's argon2id`, async () => {
      const q = `SELECT password_hash FROM users WHERE email = '${email(k)}'`;
      assert.equal(sqlQuery(db, q), made[k], 'stored as imported');
      assertError(await login(srv, email(k), PW + 'x', { tenant_slug: 'acme' }), 401, 'invalid_credentials');
      assert.equal(sqlQuery(db, q), made[k], 'a wrong password rehashes nothing');
      const ok = await loginOk(srv, email(k), PW, { tenant_slug: 'acme' });
      assert.equal(ok.user.email, email(k));
      const now = sqlQuery(db, q);
      assert.match(now, /^\$argon2id\$v=19\$m=8192,t=1,p=1\$/, `rehashed: ${now}`);
      await loginOk(srv, email(k), PW, { tenant_slug: 'acme' });
    });
  }

  it('export writes the import format; exported users import into another tenant and log in there', async () => {
    await mkTenant(db, 'beta');
    const out = path.join(dir, 'export.jsonl');
    assert.equal(await cliOk(['user', 'export', '--tenant', 'acme', out], { db }), '');
    assert.equal(fs.statSync(out).mode & 0o777, 0o600);
    const rows = fs.readFileSync(out, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
    assert.equal(rows.length, Object.keys(made).length);
    assert.deepEqual(rows.map((r) => r.email), Object.keys(made).map(email).sort());
    for (const r of rows) {
      assert.deepEqual(Object.keys(r), ['email', 'password_hash', 'is_verified', 'is_admin', 'created_at']);
      assert.equal(r.created_at, '2021-03-04T05:06:07Z');
      assert.equal(r.is_verified, true);
      assert.equal(r.is_admin, r.email === email('bcrypt_2b'));
      assert.equal(r.password_hash, sqlQuery(db, `SELECT password_hash FROM users WHERE email = '${r.email}' AND tenant_id = (SELECT id FROM tenants WHERE slug = 'acme')`));
    }
    const stdout = await cliOk(['user', 'export', '--tenant', 'acme'], { db });
    assert.equal(stdout + '\n', fs.readFileSync(out, 'utf8'));
    assert.equal(await cliOk(['user', 'import', '--tenant', 'beta', out], { db }),
      `imported ${rows.length} users into tenant beta; 0 bad lines skipped`);
    await loginOk(srv, email('scrypt'), PW, { tenant_slug: 'beta' });
  });
});

describe('user import: bad lines', { timeout: 60000 }, () => {
  const db = newDb();
  const dir = tmpDir();
  const count = () => Number(sqlQuery(db, 'SELECT count(*) FROM users'));
  const bcrypt = mkpasswd('bcrypt', 5);
  const lines = [
    { email: 'one@example.com', password_hash: bcrypt },                          // 1 good
    '{"email": "two@example.com", "password_hash": ',                             // 2
    '',                                                                           // 3 blank: skipped
    { email: 'not an address', password_hash: bcrypt },                           // 4
    { email: 'md5@example.com', password_hash: '$1$saltsalt$qjXMvbEw8oaL.CzflDugX/' }, // 5
    { email: 'slow@example.com', password_hash: bcrypt.replace('$05$', '$15$') },  // 6
    { email: 'ONE@example.com', password_hash: bcrypt },                          // 7 same as 1
    { email: 'role@example.com', password_hash: bcrypt, role: 'admin' },           // 8
    { email: 'taken@example.com', password_hash: bcrypt },                        // 9 exists
    { email: 'iter@example.com', password_hash: django('sha256', 1000).replace('$1000$', '$2000001$') }, // 10
    { email: 'big@example.com', password_hash: '$scrypt$ln=20,r=8,p=1$c2FsdHNhbHQ$' + 'A'.repeat(43) }, // 11
    '[1, 2]',                                                                     // 12
    { email: 'nohash@example.com' },                                              // 13
    { email: 'good2@example.com', password_hash: null, is_verified: 'yes' },      // 14
    { email: 'good3@example.com', password_hash: made3(), created_at: 'yesterday' }, // 15
    { email: 'good4@example.com', password_hash: null },                          // 16 good: no password
  ];
  function made3() { return mkpasswd('sha512crypt'); }
  const want = [
    'line 2: invalid_json',
    'line 4: invalid_email',
    'line 5: unknown_hash_format',
    'line 6: hash_cost_too_high',
    'line 7: duplicate_email (as line 1)',
    'line 8: unknown_field',
    'line 9: email_exists',
    'line 10: hash_cost_too_high',
    'line 11: hash_cost_too_high',
    'line 12: not_an_object',
    'line 13: missing_password_hash',
    'line 14: invalid_field',
    'line 15: invalid_field',
  ];
  let file;
  before(async () => {
    await mkTenant(db, 'acme');
    await mkUser(db, 'acme', 'taken@example.com', long());
    file = path.join(dir, 'bad.jsonl');
    fs.writeFileSync(file, jsonl(lines));
  });

  it('every bad line is reported with its number and reason, and nothing is imported', async () => {
    const r = await cli(['user', 'import', '--tenant', 'acme', file], { db });
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, want.join('\n') + '\n' +
      'tessera: nothing imported: 13 bad lines of 15 (fix them, or --skip-bad to import the rest)\n');
    assert.equal(count(), 1);
  });

  it('--skip-bad imports the good lines and reports the same bad ones', async () => {
    const r = await cli(['user', 'import', '--tenant', 'acme', file, '--skip-bad'], { db });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'imported 2 users into tenant acme; 13 bad lines skipped\n');
    assert.equal(r.stderr.split('\n').filter((l) => l.startsWith('line ')).join('\n'), want.join('\n'));
    assert.equal(count(), 3);
    assert.equal(sqlQuery(db, "SELECT password_hash FROM users WHERE email = 'good4@example.com'"), '');
    // a second run: the good lines are now taken
    const again = await cli(['user', 'import', '--tenant', 'acme', file, '--skip-bad'], { db });
    assert.equal(again.stdout, 'imported 0 users into tenant acme; 15 bad lines skipped\n');
    assert.match(again.stderr, /^line 1: email_exists$/m);
    assert.match(again.stderr, /^line 16: email_exists$/m);
  });

  it('an unknown tenant, a missing file and a missing argument are one-line errors', async () => {
    const one = (r, re) => {
      assert.equal(r.code, 1);
      assert.match(r.stderr, re);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    };
    one(await cli(['user', 'import', '--tenant', 'nope', file], { db }), /^tessera: no tenant 'nope'$/m);
    one(await cli(['user', 'import', '--tenant', 'acme', path.join(dir, 'missing.jsonl')], { db }), /cannot read .*missing\.jsonl/);
    one(await cli(['user', 'import', '--tenant', 'acme'], { db }), /usage: tessera user import/);
    one(await cli(['user', 'export', '--tenant', 'nope'], { db }), /^tessera: no tenant 'nope'$/m);
  });
});
