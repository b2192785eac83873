// Issue 12 (operations): systemd notifications through a fake
// NOTIFY_SOCKET, SIGHUP reload of the live settings, `config check`,
// secrets from files, `db backup` / `db restore` under refresh load, and
// `keys export` / `keys import` between installations.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  startServer, cli, cliOk, mkTenant, mkUser, loginOk, login, me, refresh, http, pw, rnd,
  tmpDir, newDb, newSqliteDb, dbArg, noteSecret, ON_PG, sqliteOnly, sleep, START_TIMEOUT,
} from '../lib/server.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));

// ---- a fake NOTIFY_SOCKET ----
async function notifyListener() {
  const sock = path.join(tmpDir(), 'notify.sock');
  const p = spawn('python3', [path.join(HERE, '..', 'lib', 'notify_listener.py'), sock], { stdio: ['ignore', 'pipe', 'inherit'] });
  const msgs = [];
  const waiters = [];
  let buf = '';
  let bound;
  const isBound = new Promise((r) => (bound = r));
  p.stdout.setEncoding('utf8');
  p.stdout.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (line === 'bound') { bound(); continue; }
      msgs.push({ at: Date.now(), text: line });
      for (const w of [...waiters]) w();
    }
  });
  await isBound;
  return {
    sock,
    msgs,
    /** waits for a message matching re that arrives after index from */
    wait(re, from = 0, ms = START_TIMEOUT) {
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no notify message ${re} in ${ms} ms; got ${JSON.stringify(msgs)}`)), ms);
        const check = () => {
          const m = msgs.slice(from).find((x) => re.test(x.text));
          if (!m) return;
          clearTimeout(t);
          waiters.splice(waiters.indexOf(check), 1);
          resolve(m);
        };
        waiters.push(check);
        check();
      });
    },
    close() { p.kill('SIGKILL'); },
  };
}

function connects(port) {
  return new Promise((resolve) => {
    const c = net.connect(port, '127.0.0.1');
    c.on('connect', () => { c.destroy(); resolve(true); });
    c.on('error', () => resolve(false));
  });
}

describe('systemd notifications (a fake NOTIFY_SOCKET)', () => {
  it('READY=1 only once the port accepts, STOPPING=1 on SIGTERM, no WATCHDOG=1 without WATCHDOG_USEC', async () => {
    const n = await notifyListener();
    try {
      const srv = await startServer({ env: { NOTIFY_SOCKET: n.sock } });
      const ready = await n.wait(/^READY=1\|STATUS=listening on 127\.0\.0\.1:\d+$/);
      // The socket accepted before READY was sent: a connection made on
      // READY's arrival succeeds, on the port READY names.
      const port = Number(/:(\d+)$/.exec(ready.text)[1]);
      assert.equal(port, srv.port);
      assert.equal(await connects(port), true);
      await sleep(600);
      assert.deepEqual(n.msgs.filter((m) => /WATCHDOG/.test(m.text)), []);
      const before = n.msgs.length;
      await srv.stop();
      await n.wait(/^STOPPING=1$/, before, 5000);
      assert.equal(n.msgs[0].text, ready.text, 'READY is the first message');
    } finally {
      n.close();
    }
  });

  it('WATCHDOG=1 at half of WATCHDOG_USEC', async () => {
    const n = await notifyListener();
    try {
      const srv = await startServer({ env: { NOTIFY_SOCKET: n.sock, WATCHDOG_USEC: '400000' } });
      const ready = await n.wait(/^READY=1/);
      let from = n.msgs.indexOf(ready);
      const pings = [];
      for (let i = 0; i < 4; i++) {
        const p = await n.wait(/^WATCHDOG=1$/, from + 1, 10000);
        from = n.msgs.indexOf(p);
        pings.push(p.at);
      }
      // Half of 400 ms apart: never much sooner (a busy machine only
      // makes them later).
      for (let i = 1; i < pings.length; i++) assert.ok(pings[i] - pings[i - 1] >= 150, `pings ${pings[i] - pings[i - 1]} ms apart`);
      await srv.stop();
    } finally {
      n.close();
    }
  });
});

describe('SIGHUP reload', () => {
  it('applies the live settings, names what needs a restart, and a broken file changes nothing', async () => {
    const dir = tmpDir();
    const conf = path.join(dir, 'tessera.conf');
    fs.writeFileSync(conf, 'lock_after = 10\nlog_level = info\n');
    const n = await notifyListener();
    const db = newDb();
    await mkTenant(db, 'hup');
    const P = pw();
    await mkUser(db, 'hup', 'hup@example.com', P);
    const srv = await startServer({ db, args: ['--config', conf, '--default-tenant', 'hup'], env: { NOTIFY_SOCKET: n.sock } });
    try {
      await n.wait(/^READY=1/);
      // 10 failures lock: 2 do not.
      for (let i = 0; i < 2; i++) assert.equal((await login(srv, 'hup@example.com', 'wrong-password-1')).status, 401);
      assert.equal(srv.events().filter((e) => e.event === 'account_locked').length, 0);

      fs.writeFileSync(conf, 'lock_after = 4\nlog_level = info\nhttp_threads = 1\nrl_ip_burst = 50\n');
      let from = n.msgs.length;
      srv.proc.kill('SIGHUP');
      const line = JSON.parse(await srv.waitLine((l) => l.includes('"config_reloaded"')));
      // rl_ip_burst is set by a flag (GENEROUS_LIMITS), which still wins.
      assert.equal(line.changed, 'lock_after');
      assert.equal(line.restart_needed, 'http_threads');
      assert.equal(line.file, conf);
      await n.wait(/^RELOADING=1$/, from);
      await n.wait(/^READY=1$/, from);
      // The new lock_after counts: 2 more failures (4 in all) lock.
      for (let i = 0; i < 2; i++) await login(srv, 'hup@example.com', 'wrong-password-1');
      const locked = srv.events().filter((e) => e.event === 'account_locked');
      assert.equal(locked.length, 1);
      assert.equal(locked[0].failures, 4);

      fs.writeFileSync(conf, 'lock_after = 3\nbogus = 1\n');
      from = n.msgs.length;
      srv.proc.kill('SIGHUP');
      const bad = JSON.parse(await srv.waitLine((l) => l.includes('"config_reload_failed"')));
      assert.equal(bad.error, `${conf}:2: unknown setting 'bogus'`);
      assert.equal(bad.effect, 'nothing changed');
      await n.wait(/^READY=1$/, from);
      // Still serving on the old port.
      assert.equal((await http('GET', `${srv.url}/healthz`)).status, 200);
    } finally {
      await srv.stop();
      n.close();
    }
  });
});

describe('config check', () => {
  it('a good file: exit 0 and the effective settings, secrets redacted', async () => {
    const dir = tmpDir();
    const secret = `smtp-${rnd(12)}`;
    noteSecret(secret);
    fs.writeFileSync(path.join(dir, 'smtp.pw'), `${secret}\n`);
    const conf = path.join(dir, 'good.conf');
    fs.writeFileSync(conf, [
      '# a comment',
      'listen = 127.0.0.1:9443',
      `smtp_url = smtp://mailer:${secret}@mail.example:587`,
      `smtp_password_file = ${path.join(dir, 'smtp.pw')}`,
      'log_level = warn   # trailing comment',
      '',
    ].join('\n'));
    const r = await cli(['config', 'check', '--config', conf]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    const lines = r.stdout.split('\n');
    assert.equal(lines[0], `# effective settings (file ${conf}, environment, flags); secrets redacted`);
    assert.ok(lines.includes('listen = "127.0.0.1:9443"'));
    assert.ok(lines.includes('smtp_url = "smtp://mailer:***@mail.example:587"'));
    assert.ok(lines.includes('smtp_password = "(set)"'));
    assert.ok(lines.includes('log_level = "warn"'));
    assert.ok(lines.includes('access_ttl = 900'));
  });

  it('a broken file: every error with file and line, exit 1, no settings printed', async () => {
    const conf = path.join(tmpDir(), 'bad.conf');
    fs.writeFileSync(conf, [
      'listen = 127.0.0.1:9443',
      'acess_ttl = 60',
      'access_ttl = 0',
      'log_level = loud',
      'just words',
      'jwt_alg = RS256',
      'listen = localhost:80',
      'smtp_password_file = /nonexistent/pw',
      'prefix_admin = "/adm',
      'colour = blue',
      '',
    ].join('\n'));
    const r = await cli(['config', 'check', '--config', conf]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, [
      `tessera: ${conf}:2: unknown setting 'acess_ttl' (did you mean access_ttl?)`,
      `tessera: ${conf}:3: access_ttl: 0 is outside 1..86400`,
      `tessera: ${conf}:4: log_level: 'loud' is not debug, info, warn or error`,
      `tessera: ${conf}:5: expected 'key = value'`,
      `tessera: ${conf}:6: jwt_alg: 'RS256' is not ES256 or EdDSA`,
      `tessera: ${conf}:7: listen: 'localhost:80' is not ADDR:PORT (an IPv4 address, [IPv6] in brackets, or :PORT for every address; port 0-65535)`,
      `tessera: ${conf}:8: smtp_password_file: /nonexistent/pw: No such file or directory`,
      `tessera: ${conf}:9: text after the closing quote, or no closing quote`,
      `tessera: ${conf}:10: unknown setting 'colour'`,
      `tessera: 9 errors in ${conf}`,
      '',
    ].join('\n'));
  });

  it('a missing file, a bad environment variable, and settings that contradict each other', async () => {
    const missing = path.join(tmpDir(), 'none.conf');
    let r = await cli(['config', 'check', '--config', missing]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `tessera: ${missing}: No such file or directory\n`);
    r = await cli(['config', 'check'], { env: { TESSERA_LOCK_SECS: 'soon' } });
    assert.equal(r.code, 1);
    assert.equal(r.stderr, "tessera: TESSERA_LOCK_SECS: lock_secs: 'soon' is not a whole number\ntessera: 1 error\n");
    r = await cli(['config', 'check', '--db', 'sqlite:x.db', '--db-password', 'p']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'tessera: settings: db_password is set but db is not a postgres:// URL\ntessera: 1 error\n');
  });

  it('secrets from files: TESSERA_SMTP_PASSWORD_FILE and --db-password-file, never both a value and a file', async () => {
    const dir = tmpDir();
    const secret = `pw-${rnd(12)}`;
    noteSecret(secret);
    fs.writeFileSync(path.join(dir, 's'), secret);
    let r = await cli(['config', 'check'], { env: { TESSERA_SMTP_PASSWORD_FILE: path.join(dir, 's'), TESSERA_SMTP_URL: 'smtp://u@mail.example:25' } });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.split('\n').includes('smtp_password = "(set)"'));
    r = await cli(['config', 'check'], { env: { TESSERA_SMTP_PASSWORD_FILE: path.join(dir, 's'), TESSERA_SMTP_PASSWORD: 'x', TESSERA_SMTP_URL: 'smtp://u@mail.example:25' } });
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'tessera: TESSERA_SMTP_PASSWORD and TESSERA_SMTP_PASSWORD_FILE are both set: give one\ntessera: 1 error\n');
    fs.writeFileSync(path.join(dir, 'two'), 'a\nb\n');
    r = await cli(['config', 'check', '--db-password-file', path.join(dir, 'two')]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `tessera: db_password_file: ${path.join(dir, 'two')}: more than one line, or a NUL byte\ntessera: 1 error\n`);
  });
});

describe('db backup and db restore', () => {
  it('on PostgreSQL both point at pg_dump / pg_restore', { skip: !ON_PG && 'PostgreSQL pass only' }, async () => {
    const db = newDb();
    await cliOk(['db', 'migrate', '--db', dbArg(db)]);
    let r = await cli(['db', 'backup', path.join(tmpDir(), 'b.db'), '--db', dbArg(db)]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'tessera: db backup: a postgres store is not a file; use pg_dump -Fc (docs/OPERATIONS.md, "Backup and restore")\n');
    r = await cli(['db', 'restore', '/etc/hostname', '--db', dbArg(db)]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'tessera: db restore: a postgres store is not a file; use pg_restore (docs/OPERATIONS.md, "Backup and restore")\n');
  });

  it('a backup under refresh load restores to a store where every session of backup time refreshes and me works [SQLite only: a file backup]', sqliteOnly('a file backup', { timeout: 120000 }), async () => {
    const db = newSqliteDb();
    await mkTenant(db, 'bk');
    const users = [];
    for (let i = 0; i < 3; i++) {
      const u = { email: `u${i}@example.com`, pw: pw() };
      await mkUser(db, 'bk', u.email, u.pw);
      users.push(u);
    }
    const srv = await startServer({ db, args: ['--default-tenant', 'bk'] });
    const quiet = [];
    for (const u of users) for (let j = 0; j < 3; j++) quiet.push(await loginOk(srv, u.email, u.pw));
    // Sessions hammered while the backup runs: every refresh token each
    // one had, in order.
    const busy = [];
    for (let j = 0; j < 4; j++) busy.push([(await loginOk(srv, users[0].email, users[0].pw)).refresh_token]);
    let stop = false;
    let refreshes = 0;
    const hammer = busy.map(async (chain) => {
      while (!stop) {
        const r = await refresh(srv, chain[chain.length - 1]);
        assert.equal(r.status, 200, r.text);
        chain.push(r.json.refresh_token);
        refreshes++;
      }
    });
    await sleep(300);
    const file = path.join(tmpDir(), 'backup.db');
    const out = await cliOk(['db', 'backup', file, '--db', `sqlite:${db}`]);
    stop = true;
    await Promise.all(hammer);
    assert.ok(refreshes > 10, `refreshes during the test: ${refreshes}`);
    assert.equal(out, `backed up ${db} to ${file}`);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.equal(fs.existsSync(`${file}.partial`), false);
    // A second backup to the same name is refused, the file untouched.
    const again = await cli(['db', 'backup', file, '--db', `sqlite:${db}`]);
    assert.equal(again.code, 1);
    assert.equal(again.stderr, `tessera: db backup: ${file} exists: give a new file name\n`);
    // Restore refuses while the server has the database open.
    const held = await cli(['db', 'restore', file, '--db', `sqlite:${db}`]);
    assert.equal(held.code, 1);
    // Whether its connections are open now (pid named) or idle-closed.
    const refusals = [
      `tessera: db restore: the database is open in another process (pid ${srv.proc.pid}; a running server?): stop it first\n`,
      'tessera: db restore: the database is open in another process (a running server?): stop it first\n',
    ];
    assert.ok(refusals.includes(held.stderr), held.stderr);
    // Idle for longer than the pool keeps connections (1 s): still refused.
    await sleep(2500);
    const idle = await cli(['db', 'restore', file, '--db', `sqlite:${db}`]);
    assert.equal(idle.code, 1);
    assert.ok(refusals.includes(idle.stderr), idle.stderr);   // a sweep may hold a connection just then
    await srv.stop();

    // Restored into a new database with the same key file.
    const db2 = path.join(tmpDir(), 'restored.db');
    fs.copyFileSync(`${db}.key`, `${db2}.key`);
    fs.chmodSync(`${db2}.key`, 0o600);
    const rs = await cliOk(['db', 'restore', file, '--db', `sqlite:${db2}`]);
    assert.match(rs, new RegExp(`^restored ${db2} from ${file} \\(schema \\d+\\)$`));
    const srv2 = await startServer({ db: db2, args: ['--default-tenant', 'bk'] });
    try {
      for (const s of quiet) {
        const r = await refresh(srv2, s.refresh_token);
        assert.equal(r.status, 200, r.text);
        assert.equal((await me(srv2, r.json.token)).status, 200);
      }
      // Each hammered session: its tokens newer than the backup are
      // unknown; the newest known one is the one that was current then,
      // and it refreshes (no torn copy: spent with a successor, or live).
      for (const chain of busy) {
        let ok = null;
        for (let i = chain.length - 1; i >= 0 && !ok; i--) {
          const r = await refresh(srv2, chain[i]);
          if (r.status === 200) ok = r.json;
          else assert.equal(r.status, 401, r.text);
        }
        assert.ok(ok, 'no token of a session that existed at backup time refreshes');
        assert.equal((await me(srv2, ok.token)).status, 200);
      }
    } finally {
      await srv2.stop();
    }
  });

  it('--db-password-file: the PostgreSQL password from a file, never printed', { skip: !ON_PG && 'PostgreSQL pass only' }, async () => {
    const db = newDb();
    const u = new URL(db);
    const secret = decodeURIComponent(u.password);
    noteSecret(secret);
    u.password = '';
    const file = path.join(tmpDir(), 'db.password');
    fs.writeFileSync(file, `${secret}\n`, { mode: 0o600 });
    const r = await cli(['db', 'migrate', '--db', u.toString(), '--db-password-file', file], { env: { PGPASSWORD: '', PGPASSFILE: '/nonexistent' } });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^current \d+\nlatest \d+\n$/);
    // Without it the same DSN is refused (the password was needed).
    const no = await cli(['db', 'status', '--db', u.toString()], { env: { PGPASSWORD: '', PGPASSFILE: '/nonexistent' } });
    assert.notEqual(no.code, 0);
  });

  it('a file that is not a Tessera database is refused and the database is unchanged [SQLite only: a file backup]', sqliteOnly('a file backup'), async () => {
    const db = newSqliteDb();
    await mkTenant(db, 'keep');
    const junk = path.join(tmpDir(), 'junk.db');
    fs.writeFileSync(junk, 'not a database at all, just some text that is long enough'.repeat(100));
    const r = await cli(['db', 'restore', junk, '--db', `sqlite:${db}`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^tessera: db restore: /);
    assert.match(await cliOk(['tenant', 'list', '--db', `sqlite:${db}`]), /^keep /);
  });
});

describe('keys export and keys import', () => {
  it('moves the signing keys to another installation with another key file', async () => {
    const a = newDb();
    const b = newDb();
    const dir = tmpDir();
    const ka = path.join(dir, 'a.key');
    const kb = path.join(dir, 'b.key');
    fs.writeFileSync(ka, crypto.randomBytes(32), { mode: 0o600 });
    fs.writeFileSync(kb, crypto.randomBytes(32), { mode: 0o600 });
    await cliOk(['db', 'migrate', '--db', dbArg(a), '--key-file', ka]);
    const kid = await cliOk(['keys', 'rotate', '--db', dbArg(a), '--key-file', ka, '--key-activation-delay', '0']);
    await cliOk(['db', 'migrate', '--db', dbArg(b), '--key-file', kb]);
    await cliOk(['keys', 'rotate', '--db', dbArg(b), '--key-file', kb]);
    const file = path.join(dir, 'keys.export');
    assert.equal(await cliOk(['keys', 'export', file, '--db', dbArg(a), '--key-file', ka]), `exported 1 signing key to ${file}`);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    const text = fs.readFileSync(file, 'utf8');
    assert.match(text, new RegExp(`^tessera-keys 1\nkey ${kid} ES256 \\d+ 0 0 \\d+ tsk1\\.[0-9a-f]{16}\\.[A-Za-z0-9_-]+\n$`));
    assert.doesNotMatch(text, /PRIVATE KEY/);
    // Without the exporting key file: refused, nothing added.
    let r = await cli(['keys', 'import', file, '--db', dbArg(b), '--key-file', kb]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `tessera: keys import: ${file}:2: the key is sealed under another key file: give the exporting installation's with --from-key-file (or that one does not open it); nothing imported\n`);
    assert.equal(await cliOk(['keys', 'import', file, '--db', dbArg(b), '--key-file', kb, '--from-key-file', ka]), 'imported 1 signing key (0 present already)');
    assert.equal(await cliOk(['keys', 'import', file, '--db', dbArg(b), '--key-file', kb, '--from-key-file', ka]), 'imported 0 signing keys (1 present already)');
    // B serves A's key in its JWKS, and B's key file opens it (B starts).
    const srv = await startServer({ db: b, args: ['--key-file', kb] });
    try {
      const jwks = await http('GET', `${srv.url}/.well-known/jwks.json`);
      assert.ok(jwks.json.keys.some((k) => k.kid === kid), jwks.text);
    } finally {
      await srv.stop();
    }
    // A file that is not an export.
    fs.writeFileSync(path.join(dir, 'bad'), 'hello\n');
    r = await cli(['keys', 'import', path.join(dir, 'bad'), '--db', dbArg(b), '--key-file', kb]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `tessera: keys import: ${path.join(dir, 'bad')}:1: not a line of a tessera keys export; nothing imported\n`);
  });
});

describe('contrib/tessera.service', () => {
  it('passes systemd-analyze verify (ExecStart pointed at the binary under test; the package test verifies the installed unit)', async () => {
    const unit = fs.readFileSync(path.join(HERE, '..', '..', '..', 'contrib', 'tessera.service'), 'utf8');
    for (const want of ['Type=notify', 'NoNewPrivileges=yes', 'ProtectSystem=strict', 'PrivateTmp=yes',
      'MemoryDenyWriteExecute=yes', 'CapabilityBoundingSet=\n', 'SystemCallFilter=@system-service',
      'StateDirectory=tessera', 'User=tessera', 'WatchdogSec=', 'ExecReload=/bin/kill -HUP $MAINPID']) {
      assert.ok(unit.includes(want), `the unit lacks ${want}`);
    }
    const dir = tmpDir();
    const copy = path.join(dir, 'tessera.service');
    fs.writeFileSync(copy, unit.replace('ExecStart=/usr/bin/tessera', `ExecStart=${process.env.TESSERA_BIN}`));
    const r = await new Promise((resolve) => {
      const p = spawn('systemd-analyze', ['verify', '--man=no', copy], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      p.stdout.on('data', (d) => (out += d));
      p.stderr.on('data', (d) => (out += d));
      p.on('close', (code) => resolve({ code, out }));
    });
    assert.equal(r.code, 0, r.out);
    assert.equal(r.out, '');
  });
});
