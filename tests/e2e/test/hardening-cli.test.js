// Issue 7, "the first hour with the CLI and config": scripts/run.sh run
// twice, tenant domains in one transaction, no store created by commands
// that only read or change records, settings checked before anything is
// opened, passwords refused at CR/NUL, --version, per-command --help,
// success lines, unlock/locks, and the Node.js version the docs state.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  BIN, IS_ASAN, START_TIMEOUT, COST, startServer, newDb, dbArg, sqliteOnly, tmpDir, mkTenant, mkUser, cli, cliOk, http,
  login, loginOk, pw, decodeJwt, noteSecret, UUID_RE,
} from '../lib/server.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** A failure with exactly one line on stderr that matches re. */
const failsWith = (r, re, what) => {
  assert.notEqual(r.code, 0, `${what}: expected a failure, got 0\nstdout: ${r.stdout}`);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `${what}: stderr should be one line, got:\n${r.stderr}`);
  assert.match(lines[0], re, `${what}: ${lines[0]}`);
};

/** A success that printed exactly one line on stdout, matching re (JSON
 * log lines, such as the account_unlocked audit event, aside). */
const saysOneLine = (r, re, what) => {
  assert.equal(r.code, 0, `${what}: exit ${r.code}\nstderr: ${r.stderr}`);
  const lines = r.stdout.trim().split('\n').filter((l) => !l.startsWith('{"ts":'));
  assert.equal(lines.length, 1, `${what}: stdout should be one line, got:\n${r.stdout}`);
  assert.match(lines[0], re, `${what}: ${lines[0]}`);
};

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// ---- scripts/run.sh as a process ----
function runScript(env, args = []) {
  const p = spawn('bash', [path.join(ROOT, 'scripts/run.sh'), ...COST, ...args], {
    env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  const st = { out: '', err: '', exit: null };
  p.stdout.setEncoding('utf8');
  p.stderr.setEncoding('utf8');
  p.stdout.on('data', (d) => (st.out += d));
  p.stderr.on('data', (d) => (st.err += d));
  st.exited = new Promise((resolve) => p.on('exit', (code, signal) => resolve((st.exit = { code, signal }))));
  st.proc = p;
  st.waitFor = async (re, ms = START_TIMEOUT) => {
    const t0 = Date.now();
    while (!re.test(st.out)) {
      if (st.exit) throw new Error(`run.sh exited ${JSON.stringify(st.exit)} before ${re}\nstdout:\n${st.out}\nstderr:\n${st.err}`);
      if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${re}\nstdout:\n${st.out}\nstderr:\n${st.err}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return re.exec(st.out);
  };
  st.stop = async () => {
    if (!st.exit) p.kill('SIGTERM');
    await st.exited;
    assert.doesNotMatch(st.err, /ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:/, st.err);
    assert.equal(st.exit.code, 0, `run.sh after SIGTERM: ${JSON.stringify(st.exit)}\n${st.err}`);
  };
  return st;
}

describe('scripts/run.sh twice (issue 7)', { timeout: 120000 }, () => {
  let port;
  let data;
  let env;
  let first;
  let firstPw;
  before(async () => {
    const script = fs.readFileSync(path.join(ROOT, 'scripts/run.sh'), 'utf8');
    // Without these the script would serve on the developer's ./data and 8080.
    assert.match(script, /TESSERA_RUN_BIN/, 'run.sh must take TESSERA_RUN_BIN, TESSERA_RUN_DATA and TESSERA_RUN_LISTEN');
    port = await freePort();
    data = path.join(tmpDir(), 'data');
    env = { TESSERA_RUN_BIN: BIN, TESSERA_RUN_DATA: data, TESSERA_RUN_LISTEN: `127.0.0.1:${port}` };
    first = runScript(env);
    await first.waitFor(/^Try: .*$/m);
    firstPw = /^Password:\s+(\S+)$/m.exec(first.out)?.[1];
    assert.ok(firstPw, `no password printed:\n${first.out}`);
    noteSecret(firstPw);
  });
  after(async () => {
    if (first) await first.stop();
  });

  it('the first run prints the real address, says --demo set the default tenant, and its issuer follows --listen', async () => {
    const tryLine = /^Try: .*$/m.exec(first.out)[0];
    assert.ok(tryLine.includes(`http://127.0.0.1:${port}/v1/auth/login`), tryLine);
    assert.doesNotMatch(first.out, /HOST:PORT/);
    assert.match(first.out, /^Default tenant: demo \(set by --demo/m);
    const srv = { url: `http://127.0.0.1:${port}` };
    const b = await loginOk(srv, 'demo@example.com', firstPw);
    assert.equal(decodeJwt(b.token).payload.iss, `http://127.0.0.1:${port}`);
  });

  it('a second run while the first serves fails on the busy port, naming it, and leaves the demo password alone', async () => {
    const second = runScript(env);
    await second.exited;
    assert.notEqual(second.exit.code, 0, `second run: ${second.out}`);
    assert.match(second.err, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: Address already in use`), second.err);
    assert.doesNotMatch(second.out, /Password:/, 'the store was not touched, so nothing about the demo is printed');
    await loginOk({ url: `http://127.0.0.1:${port}` }, 'demo@example.com', firstPw);
  });

  it('a run after the first stopped keeps the demo user and its password, and says how to reset it', async () => {
    await first.stop();
    first = null;
    const third = runScript(env);
    try {
      await third.waitFor(/^Try: .*$/m);
      assert.match(third.out, /^Password: .*unchanged.*tessera user password --tenant demo --email demo@example\.com/m, third.out);
      assert.ok(!third.out.includes(firstPw));
      await loginOk({ url: `http://127.0.0.1:${port}` }, 'demo@example.com', firstPw);
    } finally {
      await third.stop();
    }
  });
});

describe('tenant domains (issue 7)', { timeout: 60000 }, () => {
  const db = newDb();
  before(async () => {
    await mkTenant(db, 'acme', { domains: ['taken.example'] });
  });

  it('tenant add with a taken domain adds nothing (one transaction) and names the owner', async () => {
    failsWith(await cli(['tenant', 'add', 'other', '--domain', 'free.example', '--domain', 'taken.example'], { db }),
      /domain taken\.example belongs to tenant acme; nothing was added/, 'taken domain');
    const list = await cliOk(['tenant', 'list'], { db });
    assert.doesNotMatch(list, /^other /m, list);
    assert.doesNotMatch(list, /free\.example/, list);
    // and the slug is still free
    assert.match(await cliOk(['tenant', 'add', 'other'], { db }), UUID_RE);
  });

  it('tenant add normalises its domains and refuses a port or a path', async () => {
    await mkTenant(db, 'norm', { domains: ['Login.NORM.example.'] });
    assert.match(await cliOk(['tenant', 'list'], { db }), /^norm \S+ login\.norm\.example$/m);
    failsWith(await cli(['tenant', 'add', 'bad1', '--domain', 'bad.example:8080'], { db }), /'bad\.example:8080' is not a host name/, 'port');
    failsWith(await cli(['tenant', 'add', 'bad2', '--domain', 'bad.example/x'], { db }), /is not a host name/, 'path');
  });

  it('tenant domain add|remove SLUG HOST', async () => {
    saysOneLine(await cli(['tenant', 'domain', 'add', 'other', 'WWW.Other.Example.'], { db }),
      /^added domain www\.other\.example to tenant other$/, 'domain add');
    assert.match(await cliOk(['tenant', 'list'], { db }), /^other \S+ www\.other\.example$/m);
    failsWith(await cli(['tenant', 'domain', 'add', 'other', 'taken.example'], { db }),
      /domain taken\.example belongs to tenant acme/, 'taken');
    failsWith(await cli(['tenant', 'domain', 'add', 'other', 'x.example:80'], { db }), /is not a host name/, 'port');
    failsWith(await cli(['tenant', 'domain', 'add', 'ghost', 'g.example'], { db }), /no tenant 'ghost'/, 'unknown tenant');
    saysOneLine(await cli(['tenant', 'domain', 'remove', 'other', 'www.other.example'], { db }),
      /^removed domain www\.other\.example from tenant other$/, 'domain remove');
    assert.match(await cliOk(['tenant', 'list'], { db }), /^other \S+$/m);
    failsWith(await cli(['tenant', 'domain', 'remove', 'other', 'www.other.example'], { db }),
      /tenant other has no domain www\.other\.example/, 'remove twice');
    failsWith(await cli(['tenant', 'domain', 'remove', 'other', 'taken.example'], { db }),
      /tenant other has no domain taken\.example/, 'another tenant\'s domain');
  });
});

describe('a missing database (issue 7) [SQLite only: a database file path relative to the working directory]', sqliteOnly('a database file path relative to the working directory', { timeout: 60000 }), () => {
  it('commands that only read or change records fail, naming the resolved path, and create nothing', async () => {
    const dir = tmpDir();
    const abs = path.join(dir, 'typo.db');
    for (const args of [['tenant', 'list'], ['user', 'locks'], ['keys', 'rotate'], ['tenant', 'domain', 'add', 'acme', 'a.example'],
      ['user', 'verify', '--tenant', 'acme', '--email', 'a@example.com']]) {
      const r = await cli([...args, '--db', 'sqlite:typo.db'], { cwd: dir });
      failsWith(r, new RegExp(`no database at ${abs.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`), args.join(' '));
      assert.ok(!fs.existsSync(abs), `${args.join(' ')} created ${abs}`);
    }
    const r = await cli(['user', 'add', '--tenant', 'acme', '--email', 'a@example.com', '--db', 'sqlite:typo.db', ...COST], { cwd: dir, input: 'long-enough-pw\n' });
    failsWith(r, /no database at /, 'user add');
    assert.ok(!fs.existsSync(abs));
  });

  it('tenant add and serve create one', async () => {
    const dir = tmpDir();
    assert.match(await cliOk(['tenant', 'add', 'acme', '--db', 'sqlite:new.db'], { cwd: dir }), UUID_RE);
    assert.ok(fs.existsSync(path.join(dir, 'new.db')));
    assert.match(await cliOk(['tenant', 'list', '--db', 'sqlite:new.db'], { cwd: dir }), /^acme /);
    const srv = await startServer({ db: 'fresh.db', cwd: dir });
    await srv.stop();
    assert.ok(fs.existsSync(path.join(dir, 'fresh.db')));
    // and the listening line names the resolved path of a relative --db
    assert.equal(srv.events().find((e) => e.event === 'listening').db, path.join(dir, 'fresh.db'));
  });
});

describe('settings are checked before anything is opened (issue 7)', { timeout: 120000 }, () => {
  const serveFails = async (args, re, what, env) => {
    const db = path.join(tmpDir(), 'never.db');
    const r = await cli(['serve', '--db', `sqlite:${db}`, ...args], { env, timeout: 20000 });
    failsWith(r, re, what);
    assert.ok(!fs.existsSync(db), `${what}: the store was opened before the setting was checked`);
  };

  it('each bad setting has its own message', async () => {
    await serveFails(['--listen', '1.2.3:80'], /listen: '1\.2\.3:80' is not ADDR:PORT/, 'listen');
    await serveFails(['--listen', '::1:80'], /listen: '::1:80' is not ADDR:PORT.*\[IPv6\] in brackets/, 'listen v6 without brackets');
    await serveFails(['--listen', '127.0.0.1:70000'], /listen: .* is not ADDR:PORT/, 'listen port');
    await serveFails(['--trusted-proxies', '10.0.0.1, 10.0.0.0/33'], /trusted_proxies: '10\.0\.0\.0\/33' is not an IP address or CIDR/, 'proxies');
    await serveFails(['--trusted-proxies', 'proxy.local'], /trusted_proxies: 'proxy\.local' is not an IP address or CIDR/, 'proxy name');
    await serveFails(['--smtp-url', 'http://mail.example'], /smtp_url: 'http:\/\/mail\.example' is not smtp:\/\/HOST:PORT or smtps:\/\//, 'smtp');
    await serveFails(['--issuer', 'auth.example.com'], /issuer: 'auth\.example\.com' is not an absolute http:\/\/ or https:\/\/ URL/, 'issuer');
    await serveFails(['--prefix-admin', 'admin'], /prefix_admin: 'admin' is not a path prefix: start it with '\/'/, 'prefix');
    await serveFails([], /TESSERA_LISTEN: listen: 'localhost' is not ADDR:PORT/, 'listen from env', { TESSERA_LISTEN: 'localhost' });
  });

  it('a misspelt TESSERA_* variable is an error naming the nearest setting', async () => {
    await serveFails([], /TESSERA_ACESS_TTL is not a setting; did you mean TESSERA_ACCESS_TTL\?/, 'misspelt env', { TESSERA_ACESS_TTL: '60' });
    failsWith(await cli(['tenant', 'list', '--db', `sqlite:${path.join(tmpDir(), 'x.db')}`], { env: { TESSERA_TRUSTED_PROXY: '10.0.0.1' } }),
      /TESSERA_TRUSTED_PROXY is not a setting; did you mean TESSERA_TRUSTED_PROXIES\?/, 'misspelt env, any command');
  });

  it('CIDRs are accepted as trusted proxies, and a peer inside one is believed', async () => {
    const ipOf = async (srv) => {
      const r = await http('GET', `${srv.url}/healthz`, { headers: { 'x-forwarded-for': '203.0.113.9' } });
      assert.equal(r.status, 200);
      await srv.waitLine((l) => l.includes('"event":"request"') && l.includes('"/healthz"'));
      return srv.events().filter((e) => e.event === 'request' && e.path === '/healthz').pop().ip;
    };
    const inNet = await startServer({ args: ['--trusted-proxies', 'fd00::/8, 127.0.0.0/8'] });
    try {
      assert.equal(await ipOf(inNet), '203.0.113.9');
    } finally {
      await inNet.stop();
    }
    const outside = await startServer({ args: ['--trusted-proxies', '10.0.0.0/8'] });
    try {
      assert.equal(await ipOf(outside), '127.0.0.1');
    } finally {
      await outside.stop();
    }
  });

  it('a config file allows # comments after a value and keeps a # inside quotes', async () => {
    const db = newDb();
    const P = pw();
    await mkTenant(db, 'acme');
    await mkUser(db, 'acme', 'cfg@example.com', P);
    const f = path.join(tmpDir(), 'tessera.conf');
    fs.writeFileSync(f, '# Tessera\naccess_ttl = 77   # seconds\ndefault_tenant = acme# no space\naudience = "app#1"  # quoted\n');
    const srv = await startServer({ db, args: ['--config', f] });
    try {
      const b = await loginOk(srv, 'cfg@example.com', P);
      assert.equal(b.expires_in, 77);
      assert.equal(decodeJwt(b.token).payload.aud, 'app#1');
    } finally {
      await srv.stop();
    }
    const g = path.join(tmpDir(), 'bad.conf');
    fs.writeFileSync(g, 'audience = "open\n');
    failsWith(await cli(['tenant', 'list', '--config', g], { db }), /bad\.conf:1: .*quote/, 'unclosed quote');
  });

  it('serve --help states the precedence flag > environment > file', async () => {
    const r = await cli(['serve', '--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /Precedence: command-line flag > TESSERA_\* environment > config file > default/);
  });

  it('the issuer follows --listen unless set', async () => {
    const db = newDb();
    const P = pw();
    await mkTenant(db, 'acme');
    await mkUser(db, 'acme', 'iss@example.com', P);
    const port = await freePort();
    const srv = await startServer({ noDefaults: true, db, args: ['--listen', `127.0.0.1:${port}`, '--db', dbArg(db), '--default-tenant', 'acme', ...COST] });
    try {
      const b = await loginOk(srv, 'iss@example.com', P);
      assert.equal(decodeJwt(b.token).payload.iss, `http://127.0.0.1:${port}`);
    } finally {
      await srv.stop();
    }
  });
});

describe('passwords on standard input (issue 7)', { timeout: 120000 }, () => {
  const db = newDb();
  let srv;
  before(async () => {
    await mkTenant(db, 'acme');
    srv = await startServer({ db, args: ['--default-tenant', 'acme'] });
  });
  after(async () => {
    if (srv) await srv.stop();
  });

  it('a CR, NUL or second line inside is refused, not cut short', async () => {
    const add = (email, input) => cli(['user', 'add', '--tenant', 'acme', '--email', email, '--verified'], { db, input });
    failsWith(await add('cr@example.com', 'abcdefgh\rijklmnop\n'), /carriage return/, 'CR');
    failsWith(await add('nul@example.com', 'abcdefgh\0ijklmnop\n'), /NUL/, 'NUL');
    failsWith(await add('lf@example.com', 'abcdefgh\nijklmnop\n'), /more than one line/, 'two lines');
    failsWith(await add('cr2@example.com', 'abcdefghijkl\r\r\n'), /carriage return/, 'CR before CRLF');
    // nothing was created: the address is still free
    const P = 'abcdefgh';
    noteSecret('abcdefghijklmnop');
    await mkUser(db, 'acme', 'cr@example.com', 'abcdefghijklmnop');
    assert.equal((await login(srv, 'cr@example.com', P)).status, 401, 'the cut-short password must not log in');
    failsWith(await cli(['user', 'password', '--tenant', 'acme', '--email', 'cr@example.com'], { db, input: 'new-password\nx' }), /more than one line/, 'password: two lines');
  });

  it('one final LF or CRLF is the line end', async () => {
    const P = pw();
    noteSecret(P);
    await cliOk(['user', 'add', '--tenant', 'acme', '--email', 'crlf@example.com', '--verified'], { db, input: `${P}\r\n` });
    await loginOk(srv, 'crlf@example.com', P);
    const Q = pw();
    noteSecret(Q);
    await cliOk(['user', 'password', '--tenant', 'acme', '--email', 'crlf@example.com'], { db, input: Q });
    await loginOk(srv, 'crlf@example.com', Q);
  });

  // A terminal (script(1) gives the command a pty): asked twice, echo off.
  const hasScript = fs.existsSync('/usr/bin/script');
  const onTty = (args, answers) => new Promise((resolve, reject) => {
    const cmd = [BIN, ...args].map((a) => `'${a}'`).join(' ');
    const p = spawn('script', ['-qec', cmd, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'], env: process.env });
    let out = '';
    let asked = 0;
    p.stdout.setEncoding('utf8');
    p.stdout.on('data', (d) => {
      out += d;
      const prompts = (out.match(/Password: |Again: /g) ?? []).length;
      while (asked < prompts && asked < answers.length) p.stdin.write(`${answers[asked++]}\n`);
    });
    const t = setTimeout(() => p.kill('SIGKILL'), IS_ASAN ? 60000 : 30000);
    p.on('error', reject);
    p.on('exit', (code) => {
      clearTimeout(t);
      resolve({ code, out });
    });
  });
  it('a password typed on a terminal is asked twice and must match', { skip: !hasScript && 'script(1) missing' }, async () => {
    const P = pw();
    noteSecret(P);
    const base = ['user', 'add', '--tenant', 'acme', '--verified', '--db', dbArg(db), ...COST];
    const bad = await onTty([...base, '--email', 'tty1@example.com'], [P, `${P}x`]);
    assert.notEqual(bad.code, 0, bad.out);
    assert.match(bad.out, /Again: .*\n?.*the two passwords differ/s, bad.out);
    assert.ok(!bad.out.includes(P), 'echo is off');
    const good = await onTty([...base, '--email', 'tty2@example.com'], [P, P]);
    assert.equal(good.code, 0, good.out);
    await loginOk(srv, 'tty2@example.com', P);
  });
});

describe('CLI output (issue 7)', { timeout: 120000 }, () => {
  const db = newDb();
  let srv;
  const P = pw();
  before(async () => {
    await mkTenant(db, 'acme');
    await mkUser(db, 'acme', 'ann@example.com', P);
    srv = await startServer({ db, args: ['--default-tenant', 'acme', '--lock-after', '3'] });
  });
  after(async () => {
    if (srv) await srv.stop();
  });

  it('tessera --version and -V print the version', async () => {
    const want = JSON.parse(JSON.stringify(fs.readFileSync(path.join(ROOT, 'meson.build'), 'utf8').match(/version : '([^']+)'/)[1]));
    for (const f of ['--version', '-V']) {
      const r = await cli([f]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `tessera ${want}\n`);
    }
  });

  it('each --help lists only the settings the command uses', async () => {
    const help = async (...c) => (await cliOk([...c, '--help']));
    const list = await help('tenant', 'list');
    assert.match(list, /--db /);
    for (const s of ['--listen', '--issuer', '--trusted-proxies', '--pw-opslimit', '--jwt-alg']) assert.ok(!list.includes(s), `tenant list --help lists ${s}`);
    const add = await help('user', 'add');
    assert.match(add, /--pw-opslimit /);
    assert.ok(!add.includes('--listen'), 'user add --help lists --listen');
    const keys = await help('keys', 'rotate');
    assert.match(keys, /--jwt-alg /);
    assert.ok(!keys.includes('--smtp-url'));
    const serve = await help('serve');
    for (const s of ['--listen', '--issuer', '--trusted-proxies', '--db', '--smtp-url']) assert.ok(serve.includes(s), `serve --help lacks ${s}`);
    assert.match(await help('tenant', 'domain'), /tessera tenant domain add\|remove SLUG HOST/);
  });

  it('successful commands say what they did in one line', async () => {
    const Q = pw();
    noteSecret(Q);
    await mkUser(db, 'acme', 'ben@example.com', Q, { verified: false });
    const u = ['--tenant', 'acme', '--email', 'ben@example.com'];
    saysOneLine(await cli(['user', 'verify', ...u], { db }), /^verified ben@example\.com in tenant acme$/, 'verify');
    saysOneLine(await cli(['user', 'disable', ...u], { db }), /^disabled ben@example\.com in tenant acme; ended 0 sessions$/, 'disable');
    saysOneLine(await cli(['user', 'enable', ...u], { db }), /^enabled ben@example\.com in tenant acme$/, 'enable');
    saysOneLine(await cli(['user', 'password', ...u], { db, input: `${Q}\n` }), /^set a new password for ben@example\.com in tenant acme$/, 'password');
    saysOneLine(await cli(['user', 'unlock', ...u], { db }), /^unlocked ben@example\.com in tenant acme/, 'unlock');
  });

  it('user unlock of an unknown user fails; user locks shows tenant slugs', async () => {
    for (let i = 0; i < 3; i++) assert.equal((await login(srv, 'ann@example.com', 'wrong-password-1')).status, 401);
    await login(srv, 'ghost@example.com', 'wrong-password-1');
    const locks = (await cliOk(['user', 'locks'], { db })).split('\n');
    const ann = locks.find((l) => l.includes('ann@example.com'));
    assert.match(ann ?? '', /^acme ann@example\.com failures=3 locked_until=\d{4}-/, locks.join('\n'));
    assert.ok(locks.some((l) => /^acme ghost@example\.com failures=1 /.test(l)), locks.join('\n'));
    failsWith(await cli(['user', 'unlock', '--tenant', 'acme', '--email', 'ghost@example.com'], { db }),
      /no user ghost@example\.com in tenant acme; nothing unlocked/, 'unlock unknown');
    failsWith(await cli(['user', 'unlock', '--tenant', 'nope', '--email', 'ann@example.com'], { db }), /no tenant 'nope'/, 'unknown tenant');
    saysOneLine(await cli(['user', 'unlock', '--tenant', 'acme', '--email', 'ann@example.com'], { db }), /^unlocked ann@example\.com in tenant acme/, 'unlock');
    await loginOk(srv, 'ann@example.com', P);
  });
});

describe('the Node.js version (issue 7)', () => {
  it('README, package.json, scripts/deps.sh and tests/e2e/run.sh state the same minimum', () => {
    const read = (f) => fs.readFileSync(path.join(ROOT, f), 'utf8');
    const engines = /^>=(\d+)$/.exec(JSON.parse(read('tests/e2e/package.json')).engines.node)?.[1];
    assert.ok(engines, 'package.json engines.node is ">=N"');
    const readme = /Node\.js (\d+) or later/.exec(read('README.md'))?.[1];
    const deps = /Node\.js (\d+) or later/.exec(read('scripts/deps.sh'))?.[1];
    const runner = /"\$major" -lt (\d+) \]/.exec(read('tests/e2e/run.sh'))?.[1];
    assert.deepEqual({ readme, deps, runner }, { readme: engines, deps: engines, runner: engines });
    assert.ok(Number(process.versions.node.split('.')[0]) >= Number(engines), `this node ${process.version} is older than the stated ${engines}`);
  });
});
