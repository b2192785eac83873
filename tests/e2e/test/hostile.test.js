// Hostile input against the real server: oversized, deep, malformed and
// ambiguous requests, request smuggling, header floods, slow clients,
// pipelining, HTTP/1.0, odd methods and paths, and X-Forwarded-For from
// untrusted peers. Raw sockets where fetch cannot say the attack. After
// every case the server must still answer GET /healthz with 200; no bad
// input may get a 5xx; stderr must stay free of sanitizer reports.
import { describe, it, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import {
  startServer, newDb, mkTenant, mkUser, http, pw, rnd, sleep, noteSecret, IS_ASAN,
} from '../lib/server.js';
import { checkResponse } from '../lib/openapi.js';

const SANITIZER = /AddressSanitizer|LeakSanitizer|runtime error:|ThreadSanitizer|MemorySanitizer/;
const SLACK = IS_ASAN ? 3000 : 1500;        // ms of scheduling slack on timing checks
const LOGIN = '/v1/auth/login';
// Rate limits out of the way: these tests are about framing and parsing.
const LOOSE = [
  '--rl-ip-per-min', '10000000', '--rl-ip-burst', '1000000',
  '--rl-account-per-min', '1000000', '--rl-account-burst', '100000', '--lock-after', '100',
];

// ---- raw HTTP/1.x over a socket ----

/**
 * Splits the bytes a server sent into responses (Content-Length, chunked, or
 * read-to-close framing). Returns an array; .rest holds unparsed bytes.
 */
function parseResponses(buf, { head = false } = {}) {
  const out = [];
  let off = 0;
  out.rest = Buffer.alloc(0);
  while (off < buf.length) {
    const he = buf.indexOf('\r\n\r\n', off);
    if (he < 0) {
      out.rest = buf.subarray(off);
      break;
    }
    const lines = buf.subarray(off, he).toString('latin1').split('\r\n');
    const m = /^HTTP\/(\d\.\d) (\d{3})/.exec(lines[0]);
    if (!m) {
      out.rest = buf.subarray(off);
      break;
    }
    const headers = {};
    for (const l of lines.slice(1)) {
      const i = l.indexOf(':');
      if (i <= 0) continue;
      const k = l.slice(0, i).trim().toLowerCase();
      const v = l.slice(i + 1).trim();
      headers[k] = headers[k] === undefined ? v : `${headers[k]}, ${v}`;
    }
    const status = Number(m[2]);
    let p = he + 4;
    let body = Buffer.alloc(0);
    let complete = true;
    if (head || status === 204 || status === 304 || status < 200) {
      // no body
    } else if (/\bchunked\b/i.test(headers['transfer-encoding'] ?? '')) {
      const parts = [];
      complete = false;
      for (;;) {
        const le = buf.indexOf('\r\n', p);
        if (le < 0) break;
        const n = parseInt(buf.subarray(p, le).toString('latin1'), 16);
        if (!Number.isFinite(n)) break;
        if (n === 0) {
          const te = buf.indexOf('\r\n\r\n', le);
          if (te < 0 && buf.indexOf('\r\n', le + 2) !== le + 2) break;
          p = te >= 0 && buf.indexOf('\r\n', le + 2) !== le + 2 ? te + 4 : le + 4;
          complete = true;
          break;
        }
        if (le + 2 + n + 2 > buf.length) break;
        parts.push(buf.subarray(le + 2, le + 2 + n));
        p = le + 2 + n + 2;
      }
      body = Buffer.concat(parts);
    } else if (headers['content-length'] !== undefined) {
      const n = Number(headers['content-length']);
      body = buf.subarray(p, p + n);
      complete = body.length === n;
      p += body.length;
    } else {
      body = buf.subarray(p);
      p = buf.length;
    }
    const text = body.toString('utf8');
    let json;
    try {
      json = text.length ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    out.push({ version: m[1], status, headers, body, text, json, complete });
    off = p;
    if (!complete) break;
  }
  return out;
}

/**
 * Opens a connection, writes parts (strings or Buffers; gap ms between
 * them), and collects what the server sends. Resolves when the server
 * closes, when `responses` complete responses are in and then `linger` ms
 * pass without a close (why: 'kept-open'), or after `timeout` ms
 * (why: 'timeout'). {data, responses, why, closed, err, ms, closedAtMs}.
 */
function raw(port, parts, opts = {}) {
  const { timeout = 8000, gap = 0, responses: want = 0, linger = 300, head = false, end = false } = opts;
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    const chunks = [];
    const t0 = Date.now();
    let err = null;
    let done = false;
    let lingerTimer = null;
    const finish = (why) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearTimeout(lingerTimer);
      s.destroy();
      const data = Buffer.concat(chunks);
      resolve({
        data,
        responses: parseResponses(data, { head }),
        why,
        closed: why === 'close',
        err,
        ms: Date.now() - t0,
      });
    };
    const timer = setTimeout(() => finish('timeout'), timeout);
    s.on('data', (d) => {
      chunks.push(d);
      if (want && !lingerTimer) {
        const rs = parseResponses(Buffer.concat(chunks), { head });
        if (rs.filter((r) => r.complete).length >= want) lingerTimer = setTimeout(() => finish('kept-open'), linger);
      }
    });
    s.on('error', (e) => {
      err = e;
    });
    s.on('close', () => finish('close'));
    s.on('connect', async () => {
      for (const p of parts) {
        if (done || s.destroyed) break;
        s.write(p);
        if (gap) await sleep(gap);
      }
      if (end && !s.destroyed) s.end();
    });
  });
}

/** A request head with CRLF line ends; body appended as is. */
function req(method, path, headers = {}, body = '', version = '1.1') {
  const h = { Host: '127.0.0.1', ...headers };
  let s = `${method} ${path} HTTP/${version}\r\n`;
  for (const [k, v] of Object.entries(h)) {
    for (const one of Array.isArray(v) ? v : [v]) s += `${k}: ${one}\r\n`;
  }
  s += '\r\n';
  return Buffer.concat([Buffer.from(s, 'latin1'), Buffer.isBuffer(body) ? body : Buffer.from(body)]);
}

function jsonPost(path, body, headers = {}) {
  const b = Buffer.isBuffer(body) ? body : Buffer.from(body);
  return req('POST', path, { 'Content-Type': 'application/json', 'Content-Length': b.length, ...headers }, b);
}

function chunked(text, size = 7) {
  const b = Buffer.from(text);
  const parts = [];
  for (let i = 0; i < b.length; i += size) {
    const c = b.subarray(i, i + size);
    parts.push(Buffer.from(c.length.toString(16) + '\r\n'), c, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from('0\r\n\r\n'));
  return Buffer.concat(parts);
}

function show(r) {
  const rs = r.responses.map((x) => `${x.status} ${x.text.slice(0, 200)}`).join(' | ');
  return `why=${r.why} after ${r.ms} ms, err=${r.err?.code ?? '-'}, responses: [${rs}], raw head: ${JSON.stringify(r.data.subarray(0, 200).toString('latin1'))}`;
}

/** No response of r is a 5xx; each documented one conforms to the OpenAPI document. */
function no5xx(r, path) {
  for (const x of r.responses) {
    assert.ok(x.status < 500, `a 5xx on bad input: ${show(r)}`);
    if (path && x.complete) {
      const problems = checkResponse(path === LOGIN ? 'POST' : 'GET', path, x);
      if (problems && problems.length) {
        assert.fail(`response to hostile ${path} does not conform to docs/openapi/native.json:\n- ${problems.join('\n- ')}\n  ${show(r)}`);
      }
    }
  }
}

/** One response, a 4xx with a native error body {code, message}. */
function one4xx(r, path = LOGIN, statuses = null) {
  assert.ok(r.responses.length >= 1, `no response: ${show(r)}`);
  const x = r.responses[0];
  assert.ok(x.status >= 400 && x.status < 500, `expected a 4xx: ${show(r)}`);
  if (statuses) assert.ok(statuses.includes(x.status), `expected one of ${statuses}: ${show(r)}`);
  no5xx(r, path);
  return x;
}

function nativeError(x, code) {
  assert.ok(x.json && typeof x.json === 'object', `error body is not JSON: ${x.text}`);
  assert.equal(typeof x.json.code, 'string', `no code: ${x.text}`);
  assert.equal(typeof x.json.message, 'string', `no message: ${x.text}`);
  if (code) assert.equal(x.json.code, code, x.text);
}

async function healthy(srv, what = '') {
  const t0 = Date.now();
  const r = await http('GET', `${srv.url}/healthz`, { timeout: 5000 + SLACK });
  assert.equal(r.status, 200, `healthz after ${what}: ${r.status} ${r.text}`);
  const m = SANITIZER.exec(srv.err());
  assert.ok(!m, `sanitizer report after ${what}:\n${srv.err().slice(Math.max(0, (m?.index ?? 0) - 200), (m?.index ?? 0) + 3000)}`);
  assert.ok(!srv.exit, `server exited: ${JSON.stringify(srv.exit)}`);
  return Date.now() - t0;
}

/** Every access-log line with a 5xx. */
function logged5xx(srv) {
  return srv.events().filter((e) => e.event === 'request' && Number(e.status) >= 500);
}

// ---- the suite ----

describe('hostile input', { timeout: 300000 }, () => {
  let srv;
  const db = newDb();
  const P = pw();
  const EMAIL = 'alice@example.com';

  before(async () => {
    await mkTenant(db, 'acme');
    await mkUser(db, 'acme', EMAIL, P);
    srv = await startServer({ db, args: ['--default-tenant', 'acme', ...LOOSE] });
  });
  after(async () => {
    if (!srv) return;
    const bad = logged5xx(srv);
    await srv.stop();
    assert.deepEqual(bad, [], `5xx answers were logged:\n${bad.map((e) => JSON.stringify(e)).join('\n')}`);
  });
  afterEach(async (t) => {
    if (srv && !srv.exit) await healthy(srv, t.name);
  });

  const body = (o) => JSON.stringify(o);
  const goodLogin = () => body({ email: EMAIL, password: P });

  describe('body size', () => {
    it('a 20 KiB body (Content-Length) is refused with a 4xx error', async () => {
      const b = body({ email: EMAIL, password: P, pad: 'x'.repeat(20 * 1024) });
      const r = await raw(srv.port, [jsonPost(LOGIN, b)], { responses: 1 });
      const x = one4xx(r, LOGIN, [400, 413]);
      nativeError(x);
    });

    it('a 1 MiB body is refused (4xx or a cut), not read into memory', async () => {
      const b = Buffer.alloc(1024 * 1024, 'a');
      const r = await raw(srv.port, [jsonPost(LOGIN, b)], { responses: 1 });
      no5xx(r, LOGIN);
      if (r.responses.length) one4xx(r, LOGIN, [400, 413]);
      else assert.ok(r.closed, `neither an answer nor a close: ${show(r)}`);
    });

    it('Content-Length: 10000000 with a few bytes is answered at once, without waiting for the rest', async () => {
      const head = req('POST', LOGIN, { 'Content-Type': 'application/json', 'Content-Length': '10000000' });
      const r = await raw(srv.port, [head, '{"email":'], { responses: 1, timeout: 5000 });
      const x = one4xx(r, LOGIN, [400, 413]);
      nativeError(x);
      assert.ok(r.ms < 1000 + SLACK, `took ${r.ms} ms`);
    });

    it('a chunked body over 16 KiB is refused', async () => {
      const b = body({ email: EMAIL, password: P, pad: 'y'.repeat(20 * 1024) });
      const head = req('POST', LOGIN, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
      const r = await raw(srv.port, [head, chunked(b, 4096)], { responses: 1 });
      const x = one4xx(r, LOGIN, [400, 413]);
      nativeError(x);
    });

    it('an endless chunked body (2 MiB) is cut or refused, never buffered', async () => {
      const head = req('POST', LOGIN, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
      const piece = Buffer.concat([Buffer.from('10000\r\n'), Buffer.alloc(0x10000, 'z'), Buffer.from('\r\n')]);
      const r = await raw(srv.port, [head, ...Array(32).fill(piece)], { responses: 1, timeout: 10000 });
      no5xx(r, LOGIN);
      assert.ok(r.closed || r.responses.length, `neither an answer nor a close: ${show(r)}`);
    });

    // libmicrohttpd refuses these itself, with its own HTML page.
    it('a Content-Length that is not a number is refused, and the connection closed', async () => {
      for (const cl of ['abc', '-1', '1e3', '0x10', '99999999999999999999999']) {
        const r = await raw(srv.port, [req('POST', LOGIN, { 'Content-Type': 'application/json', 'Content-Length': cl }, '{}')], { responses: 1, linger: 1500 });
        no5xx(r);
        assert.ok(r.responses.length && [400, 413].includes(r.responses[0].status), `Content-Length ${cl}: ${show(r)}`);
        assert.ok(r.closed, `Content-Length ${cl}: ${show(r)}`);
      }
    });

    // HTTP/1.1 without Host was one of the cases libmicrohttpd answered
    // with its header block twice; the transport answers it now.
    it('the refusal of HTTP/1.1 without Host is one well-formed response', async () => {
      const r = await raw(srv.port, ['GET /healthz HTTP/1.1\r\n\r\n'], { responses: 1, linger: 1500 });
      assert.equal(r.responses.length, 1, show(r));
      assert.equal(r.responses[0].status, 400, show(r));
      nativeError(r.responses[0], 'invalid_request');
      assert.equal((r.data.toString('latin1').match(/(^|\r\n)HTTP\/1\.1 /g) ?? []).length, 1, show(r));
      assert.equal(r.responses.rest.length, 0, show(r));
      assert.ok(r.closed, show(r));
    });

    // A Content-Length libmicrohttpd 0.9.75 cannot parse is refused by it
    // before any hook of ours runs, and its reply carries the status line and
    // headers twice (docs/ARCHITECTURE.md, "Answered by libmicrohttpd").
    // Asserted exactly as it is, so that a fixed libmicrohttpd fails here and
    // the document and this test are updated.
    it('the refusal of a bad Content-Length: libmicrohttpd 0.9.75 sends its header block twice, then its page, then closes', async () => {
      for (const [cl, status] of [['abc', '400 Bad Request'], ['-1', '400 Bad Request'], ['99999999999999999999999', '413 Content Too Large']]) {
        const r = await raw(srv.port, [req('POST', LOGIN, { 'Content-Type': 'application/json', 'Content-Length': cl }, '{}')], { responses: 1, linger: 1500 });
        const text = r.data.toString('latin1');
        const blocks = text.split('\r\n\r\n');
        assert.equal(blocks.length, 3, `Content-Length ${cl}: ${show(r)}`);
        const [h1, h2, page] = blocks;
        const noDate = (h) => h.split('\r\n').filter((l) => !/^Date:/i.test(l));
        assert.deepEqual(noDate(h1), [`HTTP/1.1 ${status}`, 'Connection: close', `Content-Length: ${page.length}`], `Content-Length ${cl}: ${show(r)}`);
        assert.deepEqual(noDate(h2), noDate(h1), `Content-Length ${cl}: ${show(r)}`);
        assert.match(page, /^<html><head><title>[^<]+<\/title><\/head><body>Your HTTP request has [^<]+<b>Content-Length<\/b> header\.<\/body><\/html>$/, `Content-Length ${cl}`);
        assert.ok(r.closed, `Content-Length ${cl}: ${show(r)}`);
      }
    });
  });

  describe('malformed JSON', () => {
    const cases = [
      ['nested 8000 deep (balanced, under 16 KiB)', '['.repeat(8000) + ']'.repeat(8000)],
      ['nested 10000 deep, unclosed', '['.repeat(10000)],
      ['nested 5000 deep objects, unclosed', '{"a":'.repeat(3000)],
      ['invalid UTF-8 bytes in a string', Buffer.concat([Buffer.from(`{"email":"${EMAIL}","password":"`), Buffer.from([0xc0, 0xaf, 0xff, 0xfe]), Buffer.from('"}')])],
      ['an overlong / surrogate UTF-8 sequence', Buffer.concat([Buffer.from('{"email":"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from(`@example.com","password":"${P}"}`)])],
      ['a raw NUL byte', Buffer.concat([Buffer.from(`{"email":"${EMAIL}"`), Buffer.from([0]), Buffer.from(`,"password":"${P}"}`)])],
      ['a raw NUL byte inside a string', Buffer.concat([Buffer.from(`{"email":"${EMAIL}","password":"${P}`), Buffer.from([0]), Buffer.from('x"}')])],
      ['\\u0000 in the password', `{"email":"${EMAIL}","password":"${P}\\u0000x"}`],
      ['\\u0000 in the email', `{"email":"alice\\u0000@example.com","password":"${P}"}`],
      ['duplicate keys', `{"email":"${EMAIL}","password":"wrong-password","password":"${P}"}`],
      ['a lone surrogate escape', `{"email":"${EMAIL}","password":"\\ud800"}`],
      ['not an object', `["${EMAIL}","${P}"]`],
      ['truncated', `{"email":"${EMAIL}","password":"`],
      ['trailing garbage', `{"email":"${EMAIL}","password":"${P}"} {}`],
      ['a number as email: 1e999999', `{"email":1e999999,"password":"${P}"}`],
      ['a big integer as password', `{"email":"${EMAIL}","password":123456789012345678901234567890}`],
      ['a BOM before the object', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(`{"email":"${EMAIL}","password":"x"}`)])],
      ['empty body', ''],
      ['whitespace only', '   \r\n\t '],
    ];
    for (const [name, b] of cases) {
      it(`${name}: 400 invalid_request`, async () => {
        const r = await raw(srv.port, [jsonPost(LOGIN, b)], { responses: 1 });
        const x = one4xx(r, LOGIN, [400]);
        nativeError(x, 'invalid_request');
      });
    }

    it('huge numbers in an extra member do not crash the parser (400 or a normal answer)', async () => {
      for (const n of ['1e999999', '-1e999999', '123456789012345678901234567890', '0.' + '0'.repeat(5000) + '1', '9'.repeat(10000)]) {
        const b = `{"email":"${EMAIL}","password":"wrong-${rnd()}","extra":${n}}`;
        const r = await raw(srv.port, [jsonPost(LOGIN, b)], { responses: 1 });
        no5xx(r, LOGIN);
        assert.ok([400, 401].includes(r.responses[0]?.status), `extra ${n.slice(0, 20)}: ${show(r)}`);
      }
    });

    it('a body at exactly 16 KiB is parsed (not refused for size)', async () => {
      const base = `{"email":"${EMAIL}","password":"wrong-password","pad":""}`;
      const b = base.replace('"pad":""', `"pad":"${'p'.repeat(16 * 1024 - base.length)}"`);
      assert.equal(Buffer.byteLength(b), 16 * 1024);
      const r = await raw(srv.port, [jsonPost(LOGIN, b)], { responses: 1 });
      no5xx(r, LOGIN);
      assert.equal(r.responses[0]?.status, 401, show(r));
    });
  });

  describe('content types', () => {
    for (const [ct, b] of [
      ['application/x-www-form-urlencoded', `email=${encodeURIComponent(EMAIL)}&password=x`],
      ['multipart/form-data; boundary=XyZ', `--XyZ\r\nContent-Disposition: form-data; name="email"\r\n\r\n${EMAIL}\r\n--XyZ--\r\n`],
      ['multipart/form-data; boundary=XyZ (JSON inside)', goodLogin()],
      ['application/xml', '<login/>'],
      ['application/jsonp', goodLogin()],
    ]) {
      it(`${ct} is refused with 400`, async () => {
        const r = await http('POST', srv.url + LOGIN, { body: b, headers: { 'Content-Type': ct.replace(' (JSON inside)', '') } });
        assert.equal(r.status, 400, `${ct}: ${r.status} ${r.text}`);
        nativeError(r, 'invalid_request');
      });
    }
  });

  describe('framing and smuggling', () => {
    it('Content-Length and Transfer-Encoding: chunked together: 400 and the connection closed', async () => {
      const smuggled = req('GET', '/healthz');
      const b = Buffer.concat([Buffer.from('0\r\n\r\n'), smuggled]);
      const head = req('POST', LOGIN, {
        'Content-Type': 'application/json',
        'Content-Length': String(b.length),
        'Transfer-Encoding': 'chunked',
      });
      const r = await raw(srv.port, [head, b], { responses: 1, linger: 1500 });
      const x = one4xx(r, null, [400]);
      assert.equal(r.responses.length, 1, `the smuggled request was answered: ${show(r)}`);
      assert.ok(r.closed, `connection left open: ${show(r)}`);
      assert.equal(x.complete, true);
    });

    it('Transfer-Encoding: chunked then Content-Length (reversed order): 400 and closed', async () => {
      const r = await raw(srv.port, [
        `POST ${LOGIN} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\nContent-Type: application/json\r\n\r\n0\r\n\r\n`,
      ], { responses: 1, linger: 1500 });
      one4xx(r, null, [400]);
      assert.ok(r.closed, show(r));
    });

    it('two Content-Length headers (equal or not): 400 and closed', async () => {
      for (const [a, b] of [['5', '50'], ['2', '2']]) {
        const r = await raw(srv.port, [
          `POST ${LOGIN} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${a}\r\nContent-Length: ${b}\r\n\r\n{}GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n`,
        ], { responses: 1, linger: 1500 });
        one4xx(r, null, [400]);
        assert.equal(r.responses.length, 1, `${a}/${b}: ${show(r)}`);
        assert.ok(r.closed, `${a}/${b}: ${show(r)}`);
      }
    });

    it('obfuscated framing headers: refused', async () => {
      for (const h of [
        'Content-Length : 5',
        'Transfer-Encoding: gzip, chunked',
        'Transfer-Encoding: chunked\r\nTransfer-Encoding: identity',
        'Transfer-Encoding : chunked',
        'Transfer-Encoding: xchunked',
      ]) {
        const r = await raw(srv.port, [`POST ${LOGIN} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${h}\r\n\r\n0\r\n\r\n`], { responses: 1, linger: 1500, timeout: 5000 });
        no5xx(r);
        assert.ok(r.responses.length >= 1 && r.responses[0].status >= 400, `${JSON.stringify(h)}: ${show(r)}`);
        assert.ok(r.closed, `${JSON.stringify(h)}: connection left open: ${show(r)}`);
      }
    });

    it('Transfer-Encoding on HTTP/1.0: refused', async () => {
      const r = await raw(srv.port, [`POST ${LOGIN} HTTP/1.0\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`], { responses: 1, linger: 1500 });
      one4xx(r, null, [400]);
      assert.ok(r.closed, show(r));
    });

    it("the transport's own refusals on /v1/auth/login carry the documented error body {code, message}", async () => {
      const cases = [
        `POST ${LOGIN} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
        `POST ${LOGIN} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}`,
      ];
      for (const c of cases) {
        const r = await raw(srv.port, [c], { responses: 1, linger: 1500 });
        const x = one4xx(r, LOGIN, [400]);
        nativeError(x);
      }
    });

    it('two Host headers: 400', async () => {
      const r = await raw(srv.port, ['GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n'], { responses: 1 });
      no5xx(r);
      assert.equal(r.responses[0]?.status, 400, show(r));
    });

    it('a valid chunked JSON login works', async () => {
      const head = req('POST', LOGIN, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
      const r = await raw(srv.port, [head, chunked(goodLogin(), 5)], { responses: 1 });
      no5xx(r, LOGIN);
      const x = r.responses[0];
      assert.equal(x?.status, 200, show(r));
      assert.ok(x.json.token && x.json.refresh_token, x.text);
      noteSecret(x.json.token);
      noteSecret(x.json.refresh_token);
    });

    it('a valid chunked login sent a few bytes at a time works', async () => {
      const head = req('POST', LOGIN, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
      const whole = Buffer.concat([head, chunked(goodLogin(), 3)]);
      const parts = [];
      for (let i = 0; i < whole.length; i += 16) parts.push(whole.subarray(i, i + 16));
      const r = await raw(srv.port, parts, { gap: 2, responses: 1 });
      assert.equal(r.responses[0]?.status, 200, show(r));
      noteSecret(r.responses[0].json?.token);
      noteSecret(r.responses[0].json?.refresh_token);
    });

    it('malformed chunk sizes: refused or cut, no 5xx', async () => {
      for (const c of ['zz\r\n{}\r\n0\r\n\r\n', 'fffffffffffffffff\r\nx\r\n', '-1\r\n\r\n', '2;ext=1\r\n{}\r\n0\r\n\r\n', '2\r\n{}0\r\n\r\n']) {
        const head = req('POST', LOGIN, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
        const r = await raw(srv.port, [head, c], { responses: 1, timeout: 4000 });
        no5xx(r);
        assert.ok(r.responses.length || r.closed || r.why === 'timeout', `${JSON.stringify(c)}: ${show(r)}`);
      }
    });
  });

  describe('headers', () => {
    it('a 100 KiB header: 4xx (431) or a cut, no crash', async () => {
      const r = await raw(srv.port, [req('GET', '/healthz', { 'X-Big': 'b'.repeat(100 * 1024) })], { responses: 1 });
      no5xx(r);
      if (r.responses.length) assert.ok(r.responses[0].status >= 400 && r.responses[0].status < 500, show(r));
      else assert.ok(r.closed, show(r));
    });

    it('a 100 KiB Authorization header on a login: refused, no crash', async () => {
      const r = await raw(srv.port, [jsonPost(LOGIN, goodLogin(), { Authorization: 'Bearer ' + 'A'.repeat(100 * 1024) })], { responses: 1 });
      no5xx(r);
      assert.ok(r.responses.length ? r.responses[0].status >= 400 : r.closed, show(r));
    });

    it('2000 small headers: refused or answered, no crash', async () => {
      const h = {};
      for (let i = 0; i < 2000; i++) h[`X-H${i}`] = 'v';
      const r = await raw(srv.port, [req('GET', '/healthz', h)], { responses: 1 });
      no5xx(r);
      assert.ok(r.responses.length || r.closed, show(r));
    });

    it('an oversized Bearer token on /v1/auth/me: 401, not a crash', async () => {
      // validate: false: 401s lack the documented WWW-Authenticate today, which the native suite covers.
      const r = await http('GET', srv.url + '/v1/auth/me', { token: 'A'.repeat(8000), validate: false });
      assert.equal(r.status, 401, r.text);
    });

    it('control bytes and obs-fold in headers: no 5xx', async () => {
      for (const h of ['X-A: a\x00b', 'X-A: a\rb', 'X-A: one\r\n two', 'X-\x7f: x', ': novalue', 'NoColon']) {
        const r = await raw(srv.port, [`GET /healthz HTTP/1.1\r\nHost: x\r\n${h}\r\n\r\n`], { responses: 1, timeout: 4000 });
        no5xx(r);
        assert.ok(r.responses.length || r.closed, `${JSON.stringify(h)}: ${show(r)}`);
      }
    });

    it('a request line of garbage bytes: 400, a wait for more, or a cut', async () => {
      for (const line of [Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]), Buffer.from('\r\n\r\n\r\n'), Buffer.from('GET\r\n\r\n'), Buffer.from('GET / FOO/1.1\r\n\r\n'), Buffer.from([0x47, 0x45, 0x54, 0x20, 0x2f, 0xff, 0x00, 0x20, 0x48, 0x54, 0x54, 0x50, 0x2f, 0x31, 0x2e, 0x31, 0x0d, 0x0a, 0x0d, 0x0a])]) {
        const r = await raw(srv.port, [line], { responses: 1, timeout: 1500 });
        no5xx(r);
        assert.ok(r.responses.length ? r.responses[0].status >= 400 : true, `${JSON.stringify(line.toString('latin1'))}: ${show(r)}`);
      }
    });

    it('an unknown HTTP version: 505 (the one 5xx RFC 9110 prescribes for it) or 400, and closed', async () => {
      const r = await raw(srv.port, ['GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n'], { responses: 1, linger: 1500 });
      assert.ok([400, 505].includes(r.responses[0]?.status), show(r));
      assert.ok(r.closed, show(r));
    });
  });

  describe('connections', () => {
    it('pipelined requests are answered in order', async () => {
      const parts = Buffer.concat([
        req('GET', '/healthz'),
        jsonPost(LOGIN, body({ email: EMAIL, password: 'wrong-password' })),
        req('GET', '/.well-known/jwks.json'),
        jsonPost(LOGIN, '{"email":'),
        req('GET', '/nope'),
        jsonPost(LOGIN, goodLogin()),
        req('GET', '/healthz'),
      ]);
      const r = await raw(srv.port, [parts], { responses: 7, timeout: 10000 });
      assert.deepEqual(r.responses.map((x) => x.status), [200, 401, 200, 400, 404, 200, 200], show(r));
      noteSecret(r.responses[5].json?.token);
      noteSecret(r.responses[5].json?.refresh_token);
      for (const x of r.responses) no5xx({ ...r, responses: [x] });
    });

    it('HTTP/1.0: answered, then the connection is closed', async () => {
      const r = await raw(srv.port, ['GET /healthz HTTP/1.0\r\n\r\n'], { responses: 1, linger: 1500 });
      assert.equal(r.responses[0]?.status, 200, show(r));
      assert.ok(r.closed, show(r));
      const r2 = await raw(srv.port, [jsonPost(LOGIN, body({ email: EMAIL, password: 'wrong-password' })).toString('latin1').replace('HTTP/1.1', 'HTTP/1.0')], { responses: 1, linger: 1500 });
      assert.equal(r2.responses[0]?.status, 401, show(r2));
      no5xx(r2, LOGIN);
    });

    it('Expect: 100-continue: the login still works; an oversized one is refused without a 100', async () => {
      const b = Buffer.from(goodLogin());
      const head = req('POST', LOGIN, { 'Content-Type': 'application/json', 'Content-Length': String(b.length), Expect: '100-continue' });
      const r = await raw(srv.port, [head, b], { gap: 200, responses: 2, timeout: 5000 });
      const final = r.responses.filter((x) => x.status >= 200);
      assert.equal(final[0]?.status, 200, show(r));
      noteSecret(final[0].json?.token);
      noteSecret(final[0].json?.refresh_token);
      const big = req('POST', LOGIN, { 'Content-Type': 'application/json', 'Content-Length': '1000000', Expect: '100-continue' });
      const r2 = await raw(srv.port, [big], { responses: 1, timeout: 5000 });
      no5xx(r2);
      assert.ok(r2.responses.length && r2.responses[0].status >= 400, `expected a refusal before any body: ${show(r2)}`);
    });

    it('HTTP/1.1 without Host: 400', async () => {
      const r = await raw(srv.port, ['GET /healthz HTTP/1.1\r\n\r\n'], { responses: 1 });
      no5xx(r);
      assert.equal(r.responses[0]?.status, 400, show(r));
    });

    it('a client that closes mid-body does not disturb the server', async () => {
      const head = req('POST', LOGIN, { 'Content-Type': 'application/json', 'Content-Length': '100' });
      const r = await raw(srv.port, [head, '{"email":'], { end: true, timeout: 1500 });
      no5xx(r, LOGIN);
      for (let i = 0; i < 20; i++) {
        const s = net.connect(srv.port, '127.0.0.1');
        s.on('error', () => {});
        s.on('connect', () => {
          s.write(jsonPost(LOGIN, goodLogin()));
          s.destroy();
        });
      }
      await sleep(300);
    });
  });

  describe('methods and paths', () => {
    it('an unknown method on a known path: 405; on an unknown path: 404', async () => {
      for (const m of ['BREW', 'PROPFIND', 'TRACE', 'PATCH', 'DELETE', 'PUT']) {
        const r = await raw(srv.port, [req(m, LOGIN, { 'Content-Length': '0' })], { responses: 1 });
        no5xx(r);
        assert.ok([405, 501, 400].includes(r.responses[0]?.status), `${m} ${LOGIN}: ${show(r)}`);
        const r2 = await raw(srv.port, [req(m, '/no/such/thing', { 'Content-Length': '0' })], { responses: 1 });
        no5xx(r2);
        assert.ok([404, 405, 501, 400].includes(r2.responses[0]?.status), `${m} /no/such/thing: ${show(r2)}`);
      }
      const r = await http('GET', srv.url + LOGIN, { validate: false });
      assert.equal(r.status, 405, r.text);
      nativeError(r, 'method_not_allowed');
    });

    it('a 405 names the allowed methods in Allow (RFC 9110 §15.5.6)', async () => {
      const r = await raw(srv.port, [req('BREW', LOGIN, { 'Content-Length': '0' })], { responses: 1 });
      assert.equal(r.responses[0]?.status, 405, show(r));
      assert.match(r.responses[0].headers.allow ?? '', /\bPOST\b/, show(r));
    });

    it('a lower-case method is not routed', async () => {
      const r = await raw(srv.port, [jsonPost(LOGIN, goodLogin()).toString('latin1').replace('POST', 'post')], { responses: 1 });
      no5xx(r);
      assert.ok(r.responses[0]?.status >= 400, show(r));
    });

    it('HEAD /healthz: no body, no 5xx', async () => {
      const r = await raw(srv.port, [req('HEAD', '/healthz')], { responses: 1, head: true });
      no5xx(r);
      assert.ok(r.responses.length, show(r));
    });

    it('absurd paths: 404 (or 400), never a file, never a 5xx', async () => {
      const paths = [
        '/../../etc/passwd',
        '/%2e%2e/%2e%2e/etc/passwd',
        '/v1/auth/../../../../etc/passwd',
        '/healthz%00',
        '/healthz%00.json',
        '/v1/auth/login%00',
        '//healthz',
        '/healthz/',
        '/HEALTHZ',
        '/healthz;x=1',
        '/%',
        '/%zz',
        '/' + 'a'.repeat(8 * 1024),
        '/v1/auth/' + '%41'.repeat(2000),
        '/\u00e9t\u00e9',
        '*',
        'healthz',
      ];
      const wrong = [];
      for (const p of paths) {
        const r = await raw(srv.port, [Buffer.concat([Buffer.from('GET '), Buffer.from(p, 'utf8'), Buffer.from(' HTTP/1.1\r\nHost: x\r\n\r\n')])], { responses: 1 });
        no5xx(r);
        const x = r.responses[0];
        assert.ok(x, `${p.slice(0, 60)}: ${show(r)}`);
        assert.ok(!/root:.*:0:0:/.test(x.text), `${p}: served a file`);
        if (!(x.status >= 400 && x.status < 500)) wrong.push(`GET ${p.slice(0, 60)} -> ${x.status} ${x.text.slice(0, 80)}`);
      }
      // A percent-encoded NUL must not cut the path short: "/healthz%00.json" is not "/healthz".
      assert.deepEqual(wrong, [], `paths that were routed:\n${wrong.join('\n')}`);
    });

    it('an absolute-form request target: routed by its path or refused, no 5xx', async () => {
      const r = await raw(srv.port, ['GET http://127.0.0.1/healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'], { responses: 1 });
      no5xx(r);
      assert.ok(r.responses.length, show(r));
    });

    it('a query string with a NUL and odd bytes on login: no 5xx', async () => {
      const r = await raw(srv.port, [jsonPost(`${LOGIN}?a=%00&b=%ff%fe&c=${'q'.repeat(4000)}`, body({ email: EMAIL, password: 'wrong-password' }))], { responses: 1 });
      no5xx(r);
      assert.ok([400, 401].includes(r.responses[0]?.status), show(r));
    });
  });

  describe('client address', () => {
    it('X-Forwarded-For from an untrusted peer does not change the logged address', async () => {
      const probe = `/xff-probe-${rnd(12)}`;
      const r = await http('GET', srv.url + probe, { headers: { 'X-Forwarded-For': '203.0.113.9' }, validate: false });
      assert.equal(r.status, 404);
      const line = JSON.parse(await srv.waitLine((l) => l.includes(probe), 5000));
      assert.equal(line.ip, '127.0.0.1', `access log: ${JSON.stringify(line)}`);
    });
  });
});

describe('trusted proxy', { timeout: 60000 }, () => {
  let srv;
  before(async () => {
    srv = await startServer({ args: ['--trusted-proxies', '127.0.0.1', ...LOOSE] });
  });
  after(async () => {
    if (srv) await srv.stop();
  });
  afterEach(async (t) => {
    if (srv && !srv.exit) await healthy(srv, t.name);
  });

  async function ipFor(xff) {
    const probe = `/xff-probe-${rnd(12)}`;
    const headers = {};
    if (xff !== undefined) headers['X-Forwarded-For'] = xff;
    const r = await http('GET', srv.url + probe, { headers, validate: false });
    assert.equal(r.status, 404);
    return JSON.parse(await srv.waitLine((l) => l.includes(probe), 5000)).ip;
  }

  it('with --trusted-proxies 127.0.0.1 the X-Forwarded-For value is the client address', async () => {
    assert.equal(await ipFor('203.0.113.9'), '203.0.113.9');
    assert.equal(await ipFor('198.51.100.1, 203.0.113.9'), '203.0.113.9', 'the rightmost entry');
    assert.equal(await ipFor('203.0.113.9, 127.0.0.1'), '203.0.113.9', 'trusted hops are skipped');
    assert.equal(await ipFor(undefined), '127.0.0.1');
  });

  it('a garbage X-Forwarded-For is not believed and does not reach the log', async () => {
    for (const v of ['not-an-ip', '"><script>', '999.1.1.1', '1.2.3.4\u00e9', ' , ,', 'x'.repeat(5000)]) {
      const ip = await ipFor(v);
      assert.ok(net.isIP(ip) || ip === 'unknown', `XFF ${JSON.stringify(v.slice(0, 40))} gave ip ${JSON.stringify(ip)}`);
      assert.notEqual(ip, v);
    }
  });
});

describe('slow clients', { timeout: 120000 }, () => {
  const TIMEOUT_S = 2;
  let srv;
  before(async () => {
    srv = await startServer({ args: ['--conn-timeout', String(TIMEOUT_S), ...LOOSE] });
  });
  after(async () => {
    if (!srv) return;
    const bad = logged5xx(srv);
    await srv.stop();
    assert.deepEqual(bad, [], `5xx answers were logged:\n${bad.map((e) => JSON.stringify(e)).join('\n')}`);
  });
  afterEach(async (t) => {
    if (srv && !srv.exit) await healthy(srv, t.name);
  });

  it('slowloris: 50 connections sending a header byte per second do not block others, and are cut within the timeout', async () => {
    const text = `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ${'s'.repeat(200)}\r\n\r\n`;
    const socks = [];
    const t0 = Date.now();
    for (let i = 0; i < 50; i++) {
      const s = net.connect(srv.port, '127.0.0.1');
      const st = { s, closedAt: null, got: Buffer.alloc(0), i: 0, timer: null };
      s.on('error', () => {});
      s.on('data', (d) => (st.got = Buffer.concat([st.got, d])));
      s.on('close', () => {
        st.closedAt = Date.now() - t0;
        clearInterval(st.timer);
      });
      s.on('connect', () => {
        const tick = () => {
          if (!s.destroyed && st.i < text.length) s.write(text[st.i++]);
        };
        tick();
        st.timer = setInterval(tick, 1000);
      });
      socks.push(st);
    }
    await sleep(500);
    try {
      // A normal client is served at once meanwhile.
      for (let k = 0; k < 3; k++) {
        const ms = await healthy(srv, 'slowloris');
        assert.ok(ms < 500 + SLACK, `healthz took ${ms} ms during slowloris`);
        await sleep(300);
      }
      const limit = (TIMEOUT_S * 1000) + 2 * SLACK + 1000;
      while (Date.now() - t0 < limit && socks.some((x) => x.closedAt === null)) await sleep(100);
      const open = socks.filter((x) => x.closedAt === null).length;
      assert.equal(open, 0, `${open} of 50 slow connections still open after ${Date.now() - t0} ms (conn-timeout ${TIMEOUT_S} s)`);
      for (const x of socks) {
        const rs = parseResponses(x.got);
        for (const y of rs) assert.ok(y.status < 500, `slow connection answered ${y.status}`);
      }
    } finally {
      for (const x of socks) {
        clearInterval(x.timer);
        x.s.destroy();
      }
    }
  });

  it('a body trickled one byte at a time is cut within the timeout', async () => {
    const b = JSON.stringify({ email: 'nobody@example.com', password: 'x'.repeat(200) });
    const head = req('POST', LOGIN, { 'Content-Type': 'application/json', 'Content-Length': String(b.length) });
    const parts = [head, ...b.split('')];
    const r = await raw(srv.port, parts, { gap: 300, timeout: TIMEOUT_S * 1000 + 2 * SLACK + 3000 });
    no5xx(r);
    assert.ok(r.closed, `a trickled body kept its connection for ${r.ms} ms: ${show(r)}`);
    assert.ok(r.ms < TIMEOUT_S * 1000 + 2 * SLACK + 1000, `cut only after ${r.ms} ms`);
  });

  it('a silent connection is closed within the timeout', async () => {
    const r = await raw(srv.port, [], { timeout: TIMEOUT_S * 1000 + 2 * SLACK + 3000 });
    assert.ok(r.closed, show(r));
    assert.equal(r.data.length, 0, show(r));
  });

  it('a keep-alive connection idle after a response is closed within the timeout', async () => {
    const r = await raw(srv.port, [req('GET', '/healthz')], { timeout: TIMEOUT_S * 1000 + 2 * SLACK + 3000 });
    assert.equal(r.responses[0]?.status, 200, show(r));
    assert.ok(r.closed, show(r));
  });
});

// Oversized values in fields the engine uses as keys (rate limits, locks),
// on a server of their own: a crash here must not take the other cases down.
describe('oversized login fields', { timeout: 60000 }, () => {
  let srv;
  const db = newDb();
  before(async () => {
    await mkTenant(db, 'acme');
    srv = await startServer({ db, args: LOOSE });
  });
  after(async () => {
    if (srv) await srv.stop();
  });
  afterEach(async (t) => {
    // A case that killed the server has failed already; the next gets a new one.
    await Promise.race([srv.exited, sleep(300)]);
    if (srv.exit) srv = await startServer({ db, args: LOOSE });
    else await healthy(srv, t.name);
  });

  /** Fails when the server died on the request that gave r. */
  async function alive(r, what) {
    if (!r.responses.length) await Promise.race([srv.exited, sleep(1000)]);
    assert.ok(!srv.exit, `the server died: ${JSON.stringify(srv.exit)} on ${what}\n${show(r)}`);
  }

  for (const n of [63, 64, 546, 547, 548, 600, 15000]) {
    it(`a tenant_slug of ${n} characters: 400 or 401, and the server lives`, async () => {
      const b = JSON.stringify({ email: 'nobody@example.com', password: 'whatever-pw', tenant_slug: 's'.repeat(n) });
      const r = await raw(srv.port, [jsonPost(LOGIN, b)], { responses: 1, timeout: 5000 });
      await alive(r, `POST ${LOGIN} with a ${n}-character tenant_slug`);
      no5xx(r, LOGIN);
      assert.ok([400, 401].includes(r.responses[0]?.status), show(r));
    });
  }

  it('a 250-character Host with no tenant named: 400 or 401, and the server lives', async () => {
    const host = 'h'.repeat(240) + '.example';
    const r = await raw(srv.port, [jsonPost(LOGIN, JSON.stringify({ email: 'nobody@example.com', password: 'whatever-pw' }), { Host: host })], { responses: 1, timeout: 5000 });
    await alive(r, `POST ${LOGIN} with a ${host.length}-character Host`);
    no5xx(r, LOGIN);
    assert.ok([400, 401].includes(r.responses[0]?.status), show(r));
  });

  it('an email at the 254-byte limit and past it', async () => {
    for (const email of ['a'.repeat(64) + '@' + 'd'.repeat(185) + '.test', 'a'.repeat(300) + '@example.com', 'é'.repeat(200) + '@example.com']) {
      const r = await raw(srv.port, [jsonPost(LOGIN, JSON.stringify({ email, password: 'whatever-pw', tenant_slug: 'acme' }))], { responses: 1, timeout: 5000 });
      await alive(r, `POST ${LOGIN} with a ${email.length}-character email`);
      no5xx(r, LOGIN);
      assert.ok([400, 401].includes(r.responses[0]?.status), `${email.length}: ${show(r)}`);
    }
  });

  it('a 1024-byte and a 1025-byte password', async () => {
    for (const [n, want] of [[1024, 401], [1025, 400]]) {
      const r = await raw(srv.port, [jsonPost(LOGIN, JSON.stringify({ email: 'nobody@example.com', password: 'p'.repeat(n), tenant_slug: 'acme' }))], { responses: 1, timeout: 5000 });
      await alive(r, `POST ${LOGIN} with a ${n}-byte password`);
      no5xx(r, LOGIN);
      assert.equal(r.responses[0]?.status, want, `${n}: ${show(r)}`);
    }
  });
});
