// Helpers of the contract-face suites (test/faces*.test.js): a server
// started with the settings those suites need, requests validated against
// docs/openapi/{admin,iam,px0}.json, a small real SMTP server, and ways to
// make the database really fail (an exclusive lock, a damaged schema).
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import otplib from 'otplib';
import { startServer, newDb, http, noteSecret, COST, ISSUER, sleep, isPgDb } from './server.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const DOCS = path.resolve(here, '../../../docs/openapi');

// ---- OpenAPI validation, one document per face ----
export const FACES = {
  admin: { doc: 'admin.json', prefix: '/admin' },
  iam: { doc: 'iam.json', prefix: '/iam' },
  px0: { doc: 'px0.json', prefix: '/px0' },
};
const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
addFormats(ajv);
for (const f of Object.values(FACES)) {
  f.path = path.join(DOCS, f.doc);
  f.spec = JSON.parse(fs.readFileSync(f.path, 'utf8'));
  ajv.addSchema(f.spec, f.doc);
}
export const stats = { validated: 0 };

const ptr = (...parts) => parts.map((p) => String(p).replace(/~/g, '~0').replace(/\//g, '~1')).join('/');
const compiled = new Map();
function validator(docName, pointer) {
  const key = `${docName}#/${pointer}`;
  let v = compiled.get(key);
  if (!v) {
    v = ajv.compile({ $ref: key });
    compiled.set(key, v);
  }
  return v;
}
function deref(spec, obj) {
  while (obj && obj.$ref) {
    const parts = obj.$ref.replace(/^#\//, '').split('/').map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
    obj = parts.reduce((o, k) => o[k], spec);
  }
  return obj;
}

/**
 * Problems of a response against a face's document (empty when it conforms).
 * rel: the path after the face's prefix.
 */
// The document's path template a concrete path matches ("/customers/{slug}").
function facePath(spec, rel) {
  if (spec.paths[rel]) return rel;
  for (const tpl of Object.keys(spec.paths)) {
    if (!tpl.includes('{')) continue;
    if (new RegExp('^' + tpl.replace(/\{[^}]+\}/g, '[^/]+') + '$').test(rel)) return tpl;
  }
  return rel;
}

export function checkFace(face, method, rel0, res) {
  const f = FACES[face];
  const problems = [];
  const rel = facePath(f.spec, rel0.split('?')[0]);
  const item = f.spec.paths[rel];
  const op = item && item[method.toLowerCase()];
  if (!op) return [`${method} ${rel} is not in docs/openapi/${f.doc}`];
  const cc = res.headers['cache-control'];
  if (!cc || !/no-store/.test(cc)) problems.push(`Cache-Control is ${JSON.stringify(cc)}, not no-store`);
  const key = String(res.status);
  if (!op.responses[key]) {
    problems.push(`status ${key} is not documented (documented: ${Object.keys(op.responses).join(', ')}); body: ${res.text.slice(0, 300)}`);
    return problems;
  }
  const resp = deref(f.spec, op.responses[key]);
  for (const [name, h0] of Object.entries(resp.headers || {})) {
    const h = deref(f.spec, h0);
    let val = res.headers[name.toLowerCase()];
    if (val === undefined) {
      if (h.required) problems.push(`required header ${name} missing`);
      continue;
    }
    // a header's value is text; an integer schema describes its digits
    if (h.schema && h.schema.type === 'integer') val = /^[0-9]+$/.test(val) ? Number(val) : val;
    const v = ajv.compile(h.schema);
    if (!v(val)) problems.push(`header ${name}: ${JSON.stringify(val)} ${ajv.errorsText(v.errors)}`);
  }
  if (!resp.content) {
    if (res.text.length) problems.push(`status ${key} must have no body`);
    return problems;
  }
  if (!/^application\/json\b/i.test(res.headers['content-type'] || '')) {
    problems.push(`Content-Type is ${JSON.stringify(res.headers['content-type'])}, not application/json`);
  }
  let body;
  try {
    body = JSON.parse(res.text);
  } catch {
    problems.push(`body is not JSON: ${JSON.stringify(res.text.slice(0, 200))}`);
    return problems;
  }
  // a shared response (components/responses) is validated where it lives
  const shared = op.responses[key].$ref;
  const at = shared ? shared.replace(/^#\//, '') : ptr('paths', rel, method.toLowerCase(), 'responses', key);
  const v = validator(f.doc, at + '/content/application~1json/schema');
  if (!v(body)) {
    problems.push(`body does not match the ${key} schema: ` +
      v.errors.map((e) => `${e.instancePath || '/'} ${e.message} ${JSON.stringify(e.params)}`).join('; ') +
      `\n  body: ${res.text.slice(0, 500)}`);
  }
  return problems;
}

/**
 * A request to a face. rel is the path after the prefix; opts as for
 * server.js http() plus prefix (default the face's default). Every response
 * is validated against the face's document (validate:false skips it).
 */
export async function faceHttp(srv, face, method, rel, opts = {}) {
  const prefix = opts.prefix ?? FACES[face].prefix;
  const r = await http(method, srv.url + prefix + rel, { ...opts, validate: false });
  for (const k of ['accessToken', 'refreshToken', 'authToken', 'token']) {
    if (r.json && typeof r.json === 'object') noteSecret(r.json[k]);
  }
  if (opts.validate !== false) {
    const problems = checkFace(face, method, rel, r);
    if (problems.length) {
      throw new assert.AssertionError({
        message: `${method} ${prefix}${rel} -> ${r.status}: does not conform to docs/openapi/${FACES[face].doc}:\n- ${problems.join('\n- ')}`,
      });
    }
    stats.validated++;
  }
  return r;
}

export const adminToken = (srv, body, opts = {}) => faceHttp(srv, 'admin', 'POST', '/auth/token', { json: body, ...opts });
export const px0Login = (srv, body, opts = {}) => faceHttp(srv, 'px0', 'POST', '/v1/auth/login', { json: body, ...opts });
export const iamAuthToken = (srv, body, opts = {}) => faceHttp(srv, 'iam', 'POST', '/me/auth-tokens', { json: body, ...opts });
export const iamSession = (srv, body, opts = {}) => faceHttp(srv, 'iam', 'POST', '/me/sessions', { json: body, ...opts });

/** Asserts an IAM error body: status, group, code; nothing but the contract's keys. */
export function assertIam(r, status, group, code) {
  assert.equal(r.status, status, `expected ${status} ${group}/${code}, got ${r.status}: ${r.text}`);
  assert.equal(r.json.group, group, r.text);
  assert.equal(r.json.code, code, r.text);
  for (const k of Object.keys(r.json)) {
    assert.ok(['group', 'code', 'message', 'traces', 'validationDetail'].includes(k), `unexpected key ${k}: ${r.text}`);
  }
}
/** Asserts an admin error body. */
export function assertAdmin(r, status, code) {
  assert.equal(r.status, status, `expected ${status} ${code}, got ${r.status}: ${r.text}`);
  assert.equal(r.json.code, code, r.text);
  assert.equal(typeof r.json.error, 'string');
}
/** Asserts a px0 error body: exactly {error}. */
export function assertPx0(r, status, error) {
  assert.equal(r.status, status, `expected ${status} ${error}, got ${r.status}: ${r.text}`);
  assert.deepEqual(r.json, { error }, r.text);
}

// ---- the server ----
/**
 * Starts `tessera serve` for the face suites: cheap hashing, rate limits off
 * unless opts.limits, the given default tenant; opts.dsn is appended to the
 * sqlite DSN (e.g. '?busy_timeout=300'); opts.args go last.
 */
export function startFaceServer(opts = {}) {
  const db = opts.db ?? newDb();
  const args = [
    '--listen', '127.0.0.1:0',
    // opts.dsn holds SQLite DSN options (busy_timeout): not for PostgreSQL
    '--db', isPgDb(db) ? db : `sqlite:${db}${opts.dsn ?? ''}`,
    '--issuer', ISSUER,
    ...(opts.cost === false ? [] : COST),
    ...(opts.limits ? [] : ['--rl-ip-per-min', '0', '--rl-account-per-min', '0']),
    ...(opts.defaultTenant ? ['--default-tenant', opts.defaultTenant] : []),
    ...(opts.args ?? []),
  ];
  return startServer({ db, noDefaults: true, args, env: opts.env });
}

// ---- a real SMTP server (RFC 5321 subset: what libcurl sends) ----
/**
 * Listens on 127.0.0.1:0. Resolves {port, url, messages, waitMessage(pred,
 * ms), close()}; each message is {from, to: [], data} with data the raw
 * message text (dot-unstuffed).
 */
export function startSmtp() {
  const messages = [];
  const waiters = [];
  const sockets = new Set();
  const server = net.createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => {});
    sock.setEncoding('utf8');
    let buf = '';
    let inData = false;
    let cur = { from: null, to: [], lines: [] };
    const say = (s) => sock.write(s + '\r\n');
    say('220 faces-test ESMTP ready');
    sock.on('data', (chunk) => {
      buf += chunk;
      let i;
      while ((i = buf.indexOf('\r\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        if (inData) {
          if (line === '.') {
            inData = false;
            const msg = { from: cur.from, to: cur.to, data: cur.lines.join('\r\n') };
            messages.push(msg);
            for (const w of [...waiters]) w();
            cur = { from: null, to: [], lines: [] };
            say('250 2.0.0 queued');
          } else {
            cur.lines.push(line.startsWith('..') ? line.slice(1) : line);
          }
          continue;
        }
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === 'EHLO') say('250-faces-test\r\n250-8BITMIME\r\n250 SMTPUTF8');
        else if (verb === 'HELO') say('250 faces-test');
        else if (verb === 'MAIL') {
          cur.from = (/<([^>]*)>/.exec(line) || [])[1] ?? null;
          say('250 2.1.0 ok');
        } else if (verb === 'RCPT') {
          cur.to.push((/<([^>]*)>/.exec(line) || [])[1]);
          say('250 2.1.5 ok');
        } else if (verb === 'DATA') {
          inData = true;
          say('354 end with <CRLF>.<CRLF>');
        } else if (verb === 'RSET') {
          cur = { from: null, to: [], lines: [] };
          say('250 ok');
        } else if (verb === 'NOOP') say('250 ok');
        else if (verb === 'QUIT') {
          say('221 bye');
          sock.end();
        } else say('502 5.5.2 not implemented');
      }
    });
  });
  return new Promise((resolve, reject) => {
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = server.address().port;
      resolve({
        port,
        url: `smtp://127.0.0.1:${port}`,
        messages,
        /** resolves the first message (present or coming) for which pred holds */
        waitMessage(pred, ms = 10000) {
          return new Promise((res, rej) => {
            const check = () => {
              const m = messages.find(pred);
              if (m) {
                done();
                res(m);
                return true;
              }
              return false;
            };
            const t = setTimeout(() => {
              done();
              rej(new Error(`no mail arrived in ${ms} ms (${messages.length} received)`));
            }, ms);
            const done = () => {
              clearTimeout(t);
              const i = waiters.indexOf(check);
              if (i >= 0) waiters.splice(i, 1);
            };
            waiters.push(check);
            check();
          });
        },
        close() {
          for (const s of sockets) s.destroy();
          return new Promise((r) => server.close(() => r()));
        },
      });
    });
  });
}

/** A TCP port on 127.0.0.1 that nothing listens on (bound, then released). */
export async function deadPort() {
  const s = net.createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const port = s.address().port;
  await new Promise((r) => s.close(r));
  return port;
}

/** The 6-digit code of a mail sent by the server. */
export function codeOfMail(m) {
  const c = /sign-in code is ([0-9]{6})/.exec(m.data);
  assert.ok(c, `no code in the mail:\n${m.data}`);
  return c[1];
}

// ---- making the store really fail ----
/**
 * Runs SQL on the database with the sqlite3 shell (another process), or
 * psql for a PostgreSQL one (plain SELECTs read the same on both).
 */
export function sql(db, text) {
  if (isPgDb(db)) {
    return execFileSync('psql', [db, '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1'], { input: text + '\n', encoding: 'utf8', timeout: 20000 });
  }
  return execFileSync('sqlite3', ['-bail', db], { input: text + '\n', encoding: 'utf8', timeout: 20000 });
}

/**
 * Holds an exclusive lock on the database from another process (the
 * sqlite3 shell) until release() is called. Resolves once the lock is held.
 */
export async function lockDb(db) {
  const p = spawn('sqlite3', [db], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  p.stdout.setEncoding('utf8');
  p.stderr.setEncoding('utf8');
  p.stdout.on('data', (d) => (out += d));
  p.stderr.on('data', (d) => (err += d));
  // In WAL mode only the EXCLUSIVE locking mode keeps readers out too; a
  // write takes the lock, which that mode then never releases.
  p.stdin.write('PRAGMA busy_timeout=10000;\nPRAGMA locking_mode=EXCLUSIVE;\nBEGIN EXCLUSIVE;\nCREATE TABLE IF NOT EXISTS faces_lock(x);\nINSERT INTO faces_lock VALUES (1);\nSELECT \'locked\';\n');
  for (let i = 0; i < 200 && !/locked/.test(out); i++) {
    if (p.exitCode !== null) break;
    await sleep(50);
  }
  assert.match(out, /locked/, `sqlite3 could not lock ${db}: ${err}`);
  return {
    async release() {
      p.stdin.end('ROLLBACK;\n.quit\n');
      if (p.exitCode === null) await new Promise((r) => p.on('exit', r));
    },
  };
}

// ---- TOTP, enrolled through the native API ----
const { authenticator } = otplib;
export const STEP = 30;
export const stepNow = () => Math.floor(Date.now() / 1000 / STEP);
/** the TOTP code of an absolute RFC 6238 time step */
export const codeAt = (secret, step) => authenticator.clone({ epoch: step * STEP * 1000 + 1000 }).generate(secret);
/** a 6-digit code that is none of the codes of steps s-3..s+3 */
export function wrongCode(secret, s = stepNow()) {
  const near = new Set([-3, -2, -1, 0, 1, 2, 3].map((d) => codeAt(secret, s + d)));
  for (let i = 0; ; i++) {
    const c = String((123456 + i * 7919) % 1000000).padStart(6, '0');
    if (!near.has(c)) return c;
  }
}

/**
 * Enrols TOTP for a user through the native API (login, enroll, confirm
 * with the current step's code). Resolves {secret, step}: codes of later
 * steps only are good from then on (each step is accepted once).
 */
export async function enrollTotp(srv, email, password, headers = {}) {
  const l = await http('POST', srv.url + '/v1/auth/login', { json: { email, password }, headers });
  assert.equal(l.status, 200, `native login ${email}: ${l.text}`);
  const e = await http('POST', srv.url + '/v1/mfa/totp/enroll', { token: l.json.token, headers });
  assert.equal(e.status, 200, e.text);
  const secret = e.json.secret;
  const step = stepNow();
  const c = await http('POST', srv.url + '/v1/mfa/totp/confirm', { token: l.json.token, json: { code: codeAt(secret, step) }, headers });
  assert.equal(c.status, 200, c.text);
  return { secret, step };
}
