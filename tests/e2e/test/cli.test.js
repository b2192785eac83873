// The command line: tenants, users, keys, serve flags from argv, environment
// and config file, password hash upgrade, the demo and the default cost.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  startServer, newDb, dbArg, sqlQuery, tmpDir, mkTenant, mkUser, cli, cliOk, http, login, loginOk, me, pw,
  decodeJwt, assertError, UUID_RE, noteSecret,
} from '../lib/server.js';

const oneLineError = (r, what) => {
  assert.notEqual(r.code, 0, `${what}: expected a failure, got 0\nstdout: ${r.stdout}`);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `${what}: stderr should be one line, got:\n${r.stderr}`);
  assert.ok(lines[0].length > 0, `${what}: empty error`);
};

const sql = sqlQuery;

describe('CLI', { timeout: 120000 }, () => {
  const db = newDb();

  describe('--help', () => {
    const cmds = [[], ['tenant'], ['tenant', 'add'], ['tenant', 'list'], ['user'], ['user', 'add'], ['user', 'verify'], ['user', 'disable'], ['user', 'enable'], ['user', 'password'], ['keys'], ['keys', 'rotate'], ['serve']];
    for (const c of cmds) {
      it(`tessera ${[...c, '--help'].join(' ')} exits 0 with usage`, async () => {
        const r = await cli([...c, '--help']);
        assert.equal(r.code, 0, `exit ${r.code}\nstderr: ${r.stderr}`);
        assert.match(r.stdout + r.stderr, /usage/i);
        assert.ok(r.stdout.length > 0, 'usage goes to stdout');
      });
    }
  });

  describe('tenants', () => {
    let acme;
    it('tenant add prints the new id', async () => {
      acme = await mkTenant(db, 'acme', { domains: ['acme.test', 'www.acme.test'] });
      await mkTenant(db, 'beta');
    });
    it('tenant list prints "SLUG ID" (and domains) for each tenant', async () => {
      const out = await cliOk(['tenant', 'list'], { db });
      const lines = out.split('\n').filter(Boolean);
      assert.equal(lines.length, 2, out);
      const a = lines.find((l) => l.split(/\s+/)[0] === 'acme');
      assert.ok(a, out);
      const f = a.split(/\s+/);
      assert.equal(f[1], acme);
      assert.ok(a.includes('acme.test') && a.includes('www.acme.test'), `domains in ${a}`);
      assert.ok(lines.some((l) => l.split(/\s+/)[0] === 'beta' && UUID_RE.test(l.split(/\s+/)[1])), out);
    });
    it('a duplicate slug fails with one line on stderr', async () => {
      oneLineError(await cli(['tenant', 'add', 'acme'], { db }), 'duplicate slug');
    });
    it('a domain already taken by another tenant fails', async () => {
      oneLineError(await cli(['tenant', 'add', 'gamma', '--domain', 'acme.test'], { db }), 'duplicate domain');
    });
    it('an invalid slug fails', async () => {
      oneLineError(await cli(['tenant', 'add', 'Not A Slug!'], { db }), 'invalid slug');
      oneLineError(await cli(['tenant', 'add'], { db }), 'missing slug');
    });
  });

  describe('users', () => {
    let srv;
    const P = { ann: pw(), ben: pw(), cat: pw() };
    before(async () => {
      srv = await startServer({ db, args: ['--default-tenant', 'acme'] });
    });
    after(async () => {
      if (srv) await srv.stop();
    });

    it('user add reads the password from stdin (trailing newline stripped) and prints the id', async () => {
      const id = await mkUser(db, 'acme', 'ann@example.com', P.ann, { admin: true });
      const b = await loginOk(srv, 'ann@example.com', P.ann);
      assert.equal(b.user.id, id);
      assert.equal(b.user.is_admin, true);
      assertError(await login(srv, 'ann@example.com', P.ann + '\n'), 401, 'invalid_credentials');
    });

    it('user add refuses a duplicate email (case-insensitively), an unknown tenant, a bad email and a short password', async () => {
      const add = (tenant, email, password) => cli(['user', 'add', '--tenant', tenant, '--email', email, '--verified'], { db, input: password + '\n' });
      oneLineError(await add('acme', 'ANN@example.com', pw()), 'duplicate email');
      oneLineError(await add('nope', 'zed@example.com', pw()), 'unknown tenant');
      oneLineError(await add('acme', 'not-an-email', pw()), 'bad email');
      oneLineError(await add('acme', 'zed@example.com', 'short12'), 'password of 7 bytes');
      oneLineError(await add('acme', 'zed@example.com', ''), 'empty password');
      oneLineError(await cli(['user', 'add', '--tenant', 'acme'], { db, input: pw() + '\n' }), 'missing --email');
      // the same email in another tenant is another user
      await mkUser(db, 'beta', 'ann@example.com', pw());
      // 15 characters is enough where the password is the only factor
      // (the policy's other rules: test/passwords.test.js)
      noteSecret('quartz-lemon-42');
      await mkUser(db, 'acme', 'fifteen@example.com', 'quartz-lemon-42');
    });

    it('user verify lets an unverified user log in', async () => {
      await mkUser(db, 'acme', 'ben@example.com', P.ben, { verified: false });
      assertError(await login(srv, 'ben@example.com', P.ben), 403, 'email_not_verified');
      await cliOk(['user', 'verify', '--tenant', 'acme', '--email', 'ben@example.com'], { db });
      const b = await loginOk(srv, 'ben@example.com', P.ben);
      assert.equal(b.user.is_verified, true);
    });

    it('user disable makes login answer exactly like a wrong password', async () => {
      await mkUser(db, 'acme', 'cat@example.com', P.cat);
      const b = await loginOk(srv, 'cat@example.com', P.cat);
      await cliOk(['user', 'disable', '--tenant', 'acme', '--email', 'CAT@example.com'], { db });
      const r = await login(srv, 'cat@example.com', P.cat);
      const wrong = await login(srv, 'ann@example.com', 'wrong-password-x');
      assertError(r, 401, 'invalid_credentials');
      assert.equal(r.text, wrong.text);
      const rf = await http('POST', srv.url + '/v1/auth/refresh', { json: { refresh_token: b.refresh_token } });
      assert.equal(rf.status, 401, `refresh of a disabled user: ${rf.text}`);
      assertError(await me(srv, b.token), 401, 'session_revoked');
      await cliOk(['user', 'enable', '--tenant', 'acme', '--email', 'cat@example.com'], { db });
      await loginOk(srv, 'cat@example.com', P.cat);
    });

    it('user password sets a new password (stdin); the old one stops working', async () => {
      const np = pw();
      noteSecret(np);
      await cliOk(['user', 'password', '--tenant', 'acme', '--email', 'ann@example.com'], { db, input: np + '\n' });
      assertError(await login(srv, 'ann@example.com', P.ann), 401, 'invalid_credentials');
      await loginOk(srv, 'ann@example.com', np);
      oneLineError(await cli(['user', 'password', '--tenant', 'acme', '--email', 'ann@example.com'], { db, input: 'short\n' }), 'short new password');
    });

    it('user verify/disable of an unknown user fail', async () => {
      oneLineError(await cli(['user', 'verify', '--tenant', 'acme', '--email', 'ghost@example.com'], { db }), 'verify unknown user');
      oneLineError(await cli(['user', 'disable', '--tenant', 'acme', '--email', 'ghost@example.com'], { db }), 'disable unknown user');
    });
  });

  describe('errors', () => {
    it('an unknown command, an unknown flag and a bad --db fail with one line', async () => {
      oneLineError(await cli(['frobnicate']), 'unknown command');
      oneLineError(await cli(['tenant', 'list', '--bogus'], { db }), 'unknown flag');
      oneLineError(await cli(['tenant', 'list', '--db', 'mysql://x']), 'unknown db scheme');
      oneLineError(await cli(['tenant', 'list', '--db', `sqlite:${path.join(tmpDir(), 'no', 'such', 'dir', 'x.db')}`]), 'unopenable db');
    });

    it('keys rotate prints a new kid each time', async () => {
      const a = await cliOk(['keys', 'rotate'], { db });
      const b = await cliOk(['keys', 'rotate'], { db });
      assert.ok(a && b && a !== b && !/\s/.test(a), `${a} / ${b}`);
    });
  });
});

describe('serve configuration', { timeout: 120000 }, () => {
  const db = newDb();
  const P = pw();
  before(async () => {
    await mkTenant(db, 'acme');
    await mkUser(db, 'acme', 'cfg@example.com', P);
  });

  it('flags come from TESSERA_* environment variables', async () => {
    const srv = await startServer({ db, env: { TESSERA_ACCESS_TTL: '123', TESSERA_DEFAULT_TENANT: 'acme', TESSERA_AUDIENCE: 'env-aud' } });
    try {
      const b = await loginOk(srv, 'cfg@example.com', P);
      assert.equal(b.expires_in, 123);
      assert.equal(decodeJwt(b.token).payload.aud, 'env-aud');
    } finally {
      await srv.stop();
    }
  });

  it('flags come from --config FILE (key = value)', async () => {
    const f = path.join(tmpDir(), 'tessera.conf');
    fs.writeFileSync(f, '# Tessera\naccess_ttl = 77\n\ndefault_tenant = acme\naudience=file-aud\n');
    const srv = await startServer({ db, args: ['--config', f] });
    try {
      const b = await loginOk(srv, 'cfg@example.com', P);
      assert.equal(b.expires_in, 77);
      assert.equal(decodeJwt(b.token).payload.aud, 'file-aud');
    } finally {
      await srv.stop();
    }
  });

  it('a command-line flag wins over the environment', async () => {
    const srv = await startServer({ db, args: ['--access-ttl', '55', '--default-tenant', 'acme'], env: { TESSERA_ACCESS_TTL: '66' } });
    try {
      assert.equal((await loginOk(srv, 'cfg@example.com', P)).expires_in, 55);
    } finally {
      await srv.stop();
    }
  });

  const failsToStart = async (args, what, env) => {
    const r = await cli(['serve', '--listen', '127.0.0.1:0', '--db', dbArg(db), ...args], { env, timeout: 20000 });
    oneLineError(r, what);
  };
  it('bad values refuse to start with one line on stderr', async () => {
    await failsToStart(['--access-ttl', 'abc'], '--access-ttl abc');
    await failsToStart(['--access-ttl', '-5'], '--access-ttl -5');
    await failsToStart(['--jwt-alg', 'RS256'], '--jwt-alg RS256');
    await failsToStart(['--listen', 'not-an-address'], '--listen bad');
    await failsToStart(['--no-such-flag'], 'unknown flag');
    await failsToStart(['--config', path.join(tmpDir(), 'missing.conf')], 'missing config file');
    await failsToStart([], 'bad env value', { TESSERA_ACCESS_TTL: 'soon' });
  });

  it('a port already in use refuses to start', async () => {
    const srv = await startServer({ db });
    try {
      const r = await cli(['serve', '--listen', srv.addr, '--db', dbArg(db)], { timeout: 20000 });
      oneLineError(r, 'port in use');
    } finally {
      await srv.stop();
    }
  });
});

describe('password hashes', { timeout: 120000 }, () => {
  it('a hash made at a lower cost is upgraded on the next successful login', async () => {
    const db = newDb();
    const P = pw();
    await mkTenant(db, 'acme');
    await mkUser(db, 'acme', 'up@example.com', P);
    const h0 = sql(db, 'SELECT password_hash FROM users');
    assert.match(h0, /^\$argon2id\$v=19\$m=8192,t=1,p=1\$/);
    const srv = await startServer({ db, cost: false, args: ['--default-tenant', 'acme', '--pw-opslimit', '2', '--pw-memlimit-kib', '8192'] });
    try {
      await loginOk(srv, 'up@example.com', P);
      const h1 = sql(db, 'SELECT password_hash FROM users');
      assert.match(h1, /^\$argon2id\$v=19\$m=8192,t=2,p=1\$/, `after login: ${h1}`);
      await loginOk(srv, 'up@example.com', P);
      assertError(await login(srv, 'up@example.com', 'wrong-password-9'), 401, 'invalid_credentials');
    } finally {
      await srv.stop();
    }
  });

  it('the default cost works (argon2id, at least m=19 MiB)', async () => {
    const db = newDb();
    const P = pw();
    await mkTenant(db, 'acme');
    await mkUser(db, 'acme', 'def@example.com', P, { cost: false });
    const h = sql(db, 'SELECT password_hash FROM users');
    const m = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=\d+\$/.exec(h);
    assert.ok(m, h);
    assert.ok(Number(m[1]) >= 19456 && Number(m[2]) >= 2, `default cost ${h}`);
    const srv = await startServer({ db, cost: false, args: ['--default-tenant', 'acme'] });
    try {
      await loginOk(srv, 'def@example.com', P);
      assertError(await login(srv, 'def@example.com', 'wrong-password-9'), 401, 'invalid_credentials');
      assert.equal(sql(db, 'SELECT password_hash FROM users'), h, 'no re-hash at the same cost');
    } finally {
      await srv.stop();
    }
  });
});

describe('demo', { timeout: 60000 }, () => {
  it('serve --demo prints working demo credentials', async () => {
    const db = newDb();
    const srv = await startServer({ db, args: ['--demo'] });
    try {
      const line = await srv.waitLine((l) => /@/.test(l) && /password/i.test(l));
      let email;
      let password;
      let tenant;
      try {
        const j = JSON.parse(line);
        email = j.email;
        password = j.password;
        tenant = j.tenant ?? j.tenant_slug;
      } catch {
        email = /[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+/.exec(line)?.[0];
        // "Password:    X" or "password":"X"; X may begin with '-' (base64url)
        password = /password(?:"\s*:\s*"|:\s+)([^\s",]+)/i.exec(line)?.[1];
        tenant = /tenant\W+([a-z0-9-]+)/i.exec(line)?.[1];
      }
      assert.ok(email && password, `cannot read the credentials from: ${line}`);
      srv.allowSecrets.add(password);
      const r = await login(srv, email, password, tenant ? { tenant_slug: tenant } : {});
      assert.equal(r.status, 200, `demo login (${line}): ${r.text}`);
      const r2 = await login(srv, email, password);
      assert.equal(r2.status, 200, `demo login without tenant_slug: ${r2.text}`);
      assert.equal((await me(srv, r.json.token)).status, 200);
      // an example URL printed for the demo must be one that works
      for (const m of srv.out().matchAll(/http:\/\/[0-9.]+:(\d+)/g)) assert.equal(Number(m[1]), srv.port, `printed URL ${m[0]} is not the listening address ${srv.addr}`);
    } finally {
      await srv.stop();
    }
  });
});
