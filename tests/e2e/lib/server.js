// Harness of the black-box suite: runs the real tessera binary (server and
// CLI) and talks HTTP to it. Every response of a path that the OpenAPI
// document lists is validated against it; every server is checked on stop
// for a clean exit, sanitizer reports and leaked secrets.
import { spawn, execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http_ from 'node:http';
import assert from 'node:assert/strict';
import { checkResponse } from './openapi.js';

export const BIN = process.env.TESSERA_BIN;
if (!BIN) throw new Error('TESSERA_BIN is not set (run via tests/e2e/run.sh BIN)');
export const IS_ASAN = /asan/i.test(BIN);
if (IS_ASAN) {
  process.env.ASAN_OPTIONS ??= 'detect_leaks=1:abort_on_error=0:halt_on_error=1';
  process.env.UBSAN_OPTIONS ??= 'print_stacktrace=1:halt_on_error=1';
}
export const ISSUER = 'http://127.0.0.1';
export const COST = ['--pw-opslimit', '1', '--pw-memlimit-kib', '8192'];
// The suite logs in far more often per account and per address than the
// default login rate limits allow; servers get generous bursts unless a
// test asks for the real limits (opts.rateLimits === false).
export const GENEROUS_LIMITS = ['--rl-ip-burst', '1000000', '--rl-account-burst', '1000000'];
const SANITIZER = /AddressSanitizer|LeakSanitizer|runtime error:|ThreadSanitizer|MemorySanitizer/;
export const START_TIMEOUT = IS_ASAN ? 30000 : 15000;

// ---- temp dirs and process bookkeeping ----
const tmpDirs = [];
const live = new Set();
export function tmpDir() {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-e2e-'));
  tmpDirs.push(d);
  return d;
}
process.on('exit', () => {
  for (const p of live) {
    try { p.kill('SIGKILL'); } catch {}
  }
  if (!process.env.TESSERA_E2E_KEEP) {
    for (const d of tmpDirs) {
      try { fs.rmSync(d, { recursive: true, force: true }); } catch {}
    }
    for (const n of pgDbs) {
      try { psql(PG_DSN, `DROP DATABASE IF EXISTS ${n} WITH (FORCE)`); } catch {}
    }
  }
});

// ---- the store under test ----
// TESSERA_E2E_STORE=sqlite (default) or postgres; postgres needs
// TESSERA_PG_DSN, an admin DSN (scripts/pg.sh start prints it) on which the
// suite may CREATE DATABASE: every newDb() is then a database of its own.
export const STORE = process.env.TESSERA_E2E_STORE || 'sqlite';
if (STORE !== 'sqlite' && STORE !== 'postgres') {
  throw new Error(`TESSERA_E2E_STORE=${STORE}: expected sqlite or postgres`);
}
export const ON_PG = STORE === 'postgres';
const PG_DSN = process.env.TESSERA_PG_DSN;
if (ON_PG && !PG_DSN) throw new Error('TESSERA_E2E_STORE=postgres needs TESSERA_PG_DSN (scripts/pg.sh start prints it)');
// A PostgreSQL store needs --key-file (it seals keys and TOTP secrets; a
// SQLite one defaults to <db>.key): one key file for the pass, given to
// every tessera process through the environment, so a flag still wins.
if (ON_PG && !process.env.TESSERA_KEY_FILE) {
  const kf = path.join(tmpDir(), 'pg.key');
  fs.writeFileSync(kf, crypto.randomBytes(32), { mode: 0o600 });
  process.env.TESSERA_KEY_FILE = kf;
}
const PG_RE = /^postgres(ql)?:\/\//;
const pgDbs = [];
let pgSeq = 0;

/**
 * Options of a test whose behaviour is a property of the SQLite file
 * itself (its locks, modes, schema via the sqlite3 CLI, its removal): it
 * runs in the SQLite pass and is skipped, with the reason, on PostgreSQL.
 * Name such a test "... [SQLite only: REASON]" too.
 */
export function sqliteOnly(reason, opts = {}) {
  return { ...opts, skip: ON_PG ? `SQLite only: ${reason}` : false };
}

function psql(dsn, sql) {
  return execFileSync('psql', [dsn, '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-c', sql], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  }).trim();
}

/** The admin DSN with its database name replaced. */
function pgDsnFor(name) {
  const u = new URL(PG_DSN);
  u.pathname = `/${name}`;
  return u.toString();
}

/** A fresh SQLite database path in a temp dir of its own (either pass). */
export function newSqliteDb() {
  return path.join(tmpDir(), 't.db');
}

/**
 * A fresh, empty store: on SQLite a path in a temp dir of its own, on
 * PostgreSQL a DSN of a new database. Pass it as opts.db; dbArg() makes
 * the --db value of it.
 */
export function newDb() {
  if (!ON_PG) return newSqliteDb();
  const name = `tessera_e2e_${process.pid}_${++pgSeq}`;
  psql(PG_DSN, `CREATE DATABASE ${name}`);
  pgDbs.push(name);
  return pgDsnFor(name);
}

/** The --db value of a newDb() result (a path or a DSN). */
export function dbArg(db) {
  return PG_RE.test(db) ? db : `sqlite:${db}`;
}
export function isPgDb(db) {
  return PG_RE.test(db);
}

/**
 * One SQL statement against a store, for tests that look at stored rows
 * (both stores take the same simple SELECT). Returns the rows as text,
 * columns separated by '|'.
 */
export function sqlQuery(db, q) {
  if (PG_RE.test(db)) return psql(db, q);
  // A busy timeout: the server may hold the write lock (a rehash, a
  // checkpoint) at the moment the test looks.
  return execFileSync('sqlite3', ['-cmd', '.timeout 5000', db, q], { encoding: 'utf8' }).trim();
}

// ---- secrets: every password, token, refresh token and TOTP secret the
// suite uses; none may appear in any output of the server or the CLI ----
export const secrets = new Set();
export function noteSecret(s) {
  if (typeof s !== 'string' || s.length < 8) return;
  secrets.add(s);
  // a JWT also counts by its signature alone
  const parts = s.split('.');
  if (parts.length === 3 && parts[2].length >= 16) secrets.add(parts[2]);
}
// The DSN's password never appears in a log line or an error (issue 8).
if (PG_DSN && new URL(PG_DSN).password) noteSecret(decodeURIComponent(new URL(PG_DSN).password));
export function leakedSecrets(text, allow = new Set()) {
  const out = [];
  for (const s of secrets) if (!allow.has(s) && text.includes(s)) out.push(s);
  return out;
}

function sanitizerProblems(what, stderr) {
  const m = SANITIZER.exec(stderr);
  if (!m) return null;
  const at = Math.max(0, m.index - 200);
  return `${what}: sanitizer report on stderr:\n${stderr.slice(at, at + 4000)}`;
}

// ---- the server ----
/**
 * Starts `tessera serve`. opts: db (path; default a new one), args (extra
 * flags), env (extra environment), cost (false: no cheap hash flags),
 * rateLimits (false: the server's own login rate limits, not generous ones),
 * dsnOptions (appended to the sqlite DSN, e.g. "?busy_timeout=300"),
 * listen (default 127.0.0.1:0), issuer, noDefaults (only opts.args).
 * Resolves {url, port, proc, db, dir, out(), err(), lines(), stop()}.
 */
export async function startServer(opts = {}) {
  const db = opts.db ?? newDb();
  const args = opts.noDefaults
    ? ['serve', ...(opts.args ?? [])]
    : [
        'serve',
        '--listen', opts.listen ?? '127.0.0.1:0',
        '--db', `${dbArg(db)}${opts.dsnOptions ?? ''}`,
        '--issuer', opts.issuer ?? ISSUER,
        ...(opts.cost === false ? [] : COST),
        ...(opts.rateLimits === false ? [] : GENEROUS_LIMITS),
        ...(opts.args ?? []),
      ];
  const proc = spawn(BIN, args, {
    env: { ...process.env, ...(opts.env ?? {}) },
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: opts.cwd,
  });
  live.add(proc);
  let out = '';
  let err = '';
  let exit = null;
  const exited = new Promise((resolve) => {
    proc.on('exit', (code, signal) => {
      exit = { code, signal };
      live.delete(proc);
      resolve(exit);
    });
  });
  const waiters = [];
  proc.stdout.setEncoding('utf8');
  proc.stderr.setEncoding('utf8');
  proc.stdout.on('data', (d) => {
    out += d;
    for (const w of [...waiters]) w();
  });
  proc.stderr.on('data', (d) => {
    err += d;
  });
  const srv = {
    db,
    dir: isPgDb(db) ? tmpDir() : path.dirname(db),
    proc,
    args,
    allowSecrets: new Set(),
    out: () => out,
    err: () => err,
    /** stdout lines parsed as JSON (others skipped) */
    events() {
      return out.split('\n').flatMap((l) => {
        try {
          const j = JSON.parse(l);
          return j && typeof j === 'object' ? [j] : [];
        } catch {
          return [];
        }
      });
    },
    /** waits until stdout has a line for which pred(line) holds */
    waitLine(pred, ms = START_TIMEOUT) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const lines = out.split('\n');
          lines.pop(); // only complete lines
          for (const l of lines) {
            if (pred(l)) {
              done();
              resolve(l);
              return true;
            }
          }
          if (exit) {
            done();
            reject(new Error(`server exited (${JSON.stringify(exit)}) before the awaited line\nargs: ${args.join(' ')}\nstdout:\n${out.slice(-3000)}\nstderr:\n${err.slice(-3000)}`));
            return true;
          }
          return false;
        };
        const t = setTimeout(() => {
          done();
          reject(new Error(`timed out after ${ms} ms waiting for a server line\nargs: ${args.join(' ')}\nstdout:\n${out.slice(-3000)}\nstderr:\n${err.slice(-3000)}`));
        }, ms);
        const w = () => check();
        const done = () => {
          clearTimeout(t);
          const i = waiters.indexOf(w);
          if (i >= 0) waiters.splice(i, 1);
        };
        waiters.push(w);
        exited.then(() => setImmediate(w));
        check();
      });
    },
    get exit() {
      return exit;
    },
    exited,
    /** SIGTERM, wait for the exit; throws on a non-zero exit, sanitizer output or leaked secrets */
    async stop({ checkSecrets = true } = {}) {
      if (!exit) {
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), IS_ASAN ? 20000 : 10000);
        await exited;
        clearTimeout(t);
      }
      await new Promise((r) => setImmediate(r));
      const problems = [];
      const s = sanitizerProblems('server', err);
      if (s) problems.push(s);
      if (exit.code !== 0) problems.push(`server exit after SIGTERM: ${JSON.stringify(exit)} (expected code 0)\nstderr tail:\n${err.slice(-3000)}`);
      if (checkSecrets) {
        const leaks = leakedSecrets(out + err, srv.allowSecrets);
        if (leaks.length) problems.push(`server output contains secrets: ${leaks.map((x) => JSON.stringify(x.slice(0, 24) + '…')).join(', ')}`);
      }
      if (problems.length) throw new assert.AssertionError({ message: problems.join('\n\n') });
    },
  };
  // JSON lines, or --log-format text ("... info event=listening addr=A:P ...").
  const TEXT_LISTENING = / event=listening addr=(\S+)/;
  const line = await srv.waitLine((l) => {
    if (TEXT_LISTENING.test(l)) return true;
    try {
      const j = JSON.parse(l);
      return j.event === 'listening' && typeof j.addr === 'string';
    } catch {
      return false;
    }
  });
  const ev = TEXT_LISTENING.test(line) ? { addr: TEXT_LISTENING.exec(line)[1] } : JSON.parse(line);
  const m = /:(\d+)$/.exec(ev.addr);
  assert.ok(m, `listening addr without a port: ${line}`);
  srv.port = Number(m[1]);
  srv.addr = ev.addr;
  srv.url = `http://127.0.0.1:${srv.port}`;
  return srv;
}

// ---- the CLI ----
/**
 * Runs `tessera ...args [--db dbArg(DB)] [cost flags]`. opts: db, input
 * (stdin text), env, cost (false: no cost flags), timeout.
 * Resolves {code, signal, stdout, stderr}; rejects on sanitizer output.
 */
export function cli(args, opts = {}) {
  const full = [...args];
  if (opts.db) full.push('--db', dbArg(opts.db));
  if (opts.cost !== false && opts.db) full.push(...COST);
  return new Promise((resolve, reject) => {
    const p = spawn(BIN, full, { env: { ...process.env, ...(opts.env ?? {}) }, stdio: ['pipe', 'pipe', 'pipe'], cwd: opts.cwd });
    live.add(p);
    let stdout = '';
    let stderr = '';
    p.stdout.setEncoding('utf8');
    p.stderr.setEncoding('utf8');
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.stdin.on('error', () => {});
    if (opts.input !== undefined) p.stdin.end(opts.input);
    else p.stdin.end();
    const t = setTimeout(() => p.kill('SIGKILL'), opts.timeout ?? (IS_ASAN ? 60000 : 30000));
    p.on('error', reject);
    p.on('close', (code, signal) => {
      clearTimeout(t);
      live.delete(p);
      const s = sanitizerProblems(`tessera ${full.join(' ')}`, stderr);
      if (s) return reject(new assert.AssertionError({ message: s }));
      if (signal) return reject(new Error(`tessera ${full.join(' ')} died of ${signal}\nstderr: ${stderr}`));
      const leaks = leakedSecrets(stdout + stderr);
      if (leaks.length) return reject(new assert.AssertionError({ message: `tessera ${full.join(' ')} printed secrets: ${leaks.map((x) => x.slice(0, 24)).join(', ')}` }));
      resolve({ code, signal, stdout, stderr, args: full });
    });
  });
}

/** cli() that must succeed: returns trimmed stdout */
export async function cliOk(args, opts = {}) {
  const r = await cli(args, opts);
  assert.equal(r.code, 0, `tessera ${r.args.join(' ')} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r.stdout.trim();
}

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Creates a tenant; returns its id. */
export async function mkTenant(db, slug, { domains = [], mfaRequired = false } = {}) {
  const args = ['tenant', 'add', slug];
  for (const d of domains) args.push('--domain', d);
  if (mfaRequired) args.push('--mfa-required');
  const id = await cliOk(args, { db });
  assert.match(id, UUID_RE, `tenant add printed ${JSON.stringify(id)}, not a uuid`);
  return id;
}

/** Creates a user (verified unless verified:false); returns its id. */
export async function mkUser(db, tenant, email, password, { verified = true, admin = false, cost } = {}) {
  noteSecret(password);
  const args = ['user', 'add', '--tenant', tenant, '--email', email];
  if (verified) args.push('--verified');
  if (admin) args.push('--admin');
  const id = await cliOk(args, { db, input: password + '\n', cost });
  assert.match(id, UUID_RE, `user add printed ${JSON.stringify(id)}, not a uuid`);
  return id;
}

// ---- HTTP ----
export const stats = { requests: 0, validated: 0 };

/**
 * One request on a fresh connection. opts: json (serialised body), body
 * (string or Buffer, sent as is), headers (may include host), token (Bearer),
 * validate (default true: documented paths are checked against the OpenAPI
 * document and a mismatch throws).
 * Resolves {status, headers, text, json}.
 */
export function http(method, url, opts = {}) {
  const u = new URL(url);
  const headers = { ...(opts.headers ?? {}) };
  let body = null;
  if (opts.json !== undefined) {
    body = Buffer.from(JSON.stringify(opts.json));
    if (opts.json && typeof opts.json === 'object') {
      noteSecret(opts.json.password);
      noteSecret(opts.json.refresh_token);
    }
  } else if (opts.body !== undefined) {
    body = Buffer.isBuffer(opts.body) ? opts.body : Buffer.from(opts.body);
  }
  const lower = Object.fromEntries(Object.keys(headers).map((k) => [k.toLowerCase(), k]));
  if (body && !lower['content-type']) headers['Content-Type'] = 'application/json';
  if (body) headers['Content-Length'] = String(body.length);
  if (opts.token !== undefined) {
    headers.Authorization = `Bearer ${opts.token}`;
    noteSecret(opts.token);
  }
  return new Promise((resolve, reject) => {
    const req = http_.request(
      {
        host: u.hostname,
        port: u.port,
        method,
        path: u.pathname + u.search,
        headers,
        agent: false,
        timeout: opts.timeout ?? 30000,
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json;
          try {
            json = text.length ? JSON.parse(text) : undefined;
          } catch {
            json = undefined;
          }
          const r = { status: res.statusCode, headers: res.headers, text, json, method, path: u.pathname };
          if (json && typeof json === 'object') {
            noteSecret(json.token);
            noteSecret(json.refresh_token);
            noteSecret(json.secret);
          }
          stats.requests++;
          if (opts.validate !== false) {
            const problems = checkResponse(method, u.pathname, r);
            if (problems) {
              stats.validated++;
              if (problems.length) {
                return reject(
                  new assert.AssertionError({
                    message: `${method} ${u.pathname} -> ${res.statusCode}: response does not conform to docs/openapi/native.json:\n- ${problems.join('\n- ')}\n  request body: ${body ? body.toString('utf8').slice(0, 300) : '(none)'}`,
                  }),
                );
              }
            }
          }
          resolve(r);
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${url}: timed out`)));
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

// ---- small helpers ----
export function rnd(n = 8) {
  return Math.random().toString(36).slice(2, 2 + n).padEnd(n, '0');
}
/** A distinctive password (so a leak is found by search). */
export function pw() {
  return `Pw-${rnd(10)}-${rnd(10)}!`;
}
export async function login(srv, email, password, extra = {}, opts = {}) {
  return http('POST', `${srv.url}/v1/auth/login`, { json: { email, password, ...extra }, ...opts });
}
/** login that must return a full token set */
export async function loginOk(srv, email, password, extra = {}, opts = {}) {
  const r = await login(srv, email, password, extra, opts);
  assert.equal(r.status, 200, `login ${email}: ${r.status} ${r.text}`);
  assert.ok(r.json.token && r.json.refresh_token, `login ${email}: no token set: ${r.text}`);
  return r.json;
}
export function me(srv, token, headers = {}) {
  return http('GET', `${srv.url}/v1/auth/me`, { token, headers });
}
export function refresh(srv, refresh_token, headers = {}) {
  return http('POST', `${srv.url}/v1/auth/refresh`, { json: { refresh_token }, headers });
}
export function decodeJwt(t) {
  const [h, p] = t.split('.');
  return {
    header: JSON.parse(Buffer.from(h, 'base64url').toString()),
    payload: JSON.parse(Buffer.from(p, 'base64url').toString()),
  };
}
export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}
/** Asserts an error body: status, code, and (optionally) details.field */
export function assertError(r, status, code, field) {
  assert.equal(r.status, status, `expected ${status} ${code}, got ${r.status}: ${r.text}`);
  assert.ok(r.json && typeof r.json === 'object', `error body is not JSON: ${r.text}`);
  if (code) assert.equal(r.json.code, code, `expected code ${code}: ${r.text}`);
  assert.equal(typeof r.json.message, 'string');
  if (field !== undefined) {
    assert.ok(r.json.details, `no details in ${r.text}`);
    assert.equal(r.json.details.field, field, `details.field: ${r.text}`);
    assert.equal(typeof r.json.details.reason, 'string', `details.reason: ${r.text}`);
  }
}
