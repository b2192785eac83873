// TLS of its own (issue 12): https through libmicrohttpd's GnuTLS, TLS 1.2
// and 1.3 only with AEAD ciphers, HSTS, the certificate reloaded on SIGHUP
// for the next connection while an open one finishes, bad files refused at
// start (exit 1) and kept out at a reload, and one warning for plain HTTP
// on a non-loopback address. Certificates are made here with `openssl req`
// (one day), so nothing checked in can expire.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import {
  startServer, newDb, mkTenant, mkUser, pw, rnd, tmpDir, cli, noteSecret, sleep,
} from '../lib/server.js';

/** A self-signed certificate for 127.0.0.1 with common name cn, in dir. */
function mkCert(dir, cn, { kind = 'ec' } = {}) {
  const cert = path.join(dir, `${cn}.crt`);
  const key = path.join(dir, `${cn}.key`);
  const alg = kind === 'ec' ? ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'] : ['-newkey', 'rsa:2048'];
  execFileSync('openssl', ['req', '-x509', ...alg, '-nodes', '-keyout', key, '-out', cert, '-days', '1',
    '-subj', `/CN=${cn}`, '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  return { cert, key, pem: fs.readFileSync(cert, 'utf8') };
}

function tlsArgs(c) {
  return ['--tls-cert', c.cert, '--tls-key', c.key];
}

/** openssl s_client against port with extra flags; {ok, out}. */
function sClient(port, flags) {
  const r = spawnSync('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-brief', ...flags],
    { input: '', encoding: 'utf8', timeout: 15000 });
  const out = (r.stdout ?? '') + (r.stderr ?? '');
  return { ok: r.status === 0 && /CONNECTION ESTABLISHED/.test(out), out };
}

/** The common name of the certificate a new connection is shown. */
function servedCn(port) {
  const r = spawnSync('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-showcerts'],
    { input: '', encoding: 'utf8', timeout: 15000 });
  const m = /subject=CN\s*=\s*(\S+)/.exec(r.stdout ?? '');
  return m ? m[1] : `(none: ${(r.stderr ?? '').slice(0, 300)})`;
}

/** One https request on agent; resolves {status, headers, text, socket, reused}. */
function req(agent, port, method, p, { body, ca, partial } = {}) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? null : Buffer.from(JSON.stringify(body));
    const r = https.request({
      host: '127.0.0.1', port, method, path: p, agent, ca,
      headers: data ? { 'Content-Type': 'application/json', 'Content-Length': String(data.length) } : {},
    }, (res) => {
      const chunks = [];
      // Read now: the agent takes the socket back at the end.
      const socket = res.socket;
      const cn = socket.getPeerCertificate().subject?.CN;
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({
        status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString('utf8'),
        socket, reused: r.reusedSocket, cn,
      }));
      res.on('error', reject);
    });
    r.on('error', reject);
    if (data && partial) {
      // The first bytes now; the rest when the caller says so.
      r.write(data.subarray(0, 5));
      r.flushHeaders();
      partial(() => r.end(data.subarray(5)));
      return;
    }
    if (data) r.write(data);
    r.end();
  });
}

async function tlsServer(dir, c, extra = {}) {
  const db = newDb();
  const slug = `t${rnd(6)}`;
  await mkTenant(db, slug);
  const email = `u${rnd(6)}@example.com`;
  const pass = pw();
  await mkUser(db, slug, email, pass);
  const srv = await startServer({ db, args: [...tlsArgs(c), '--default-tenant', slug, ...(extra.args ?? [])] });
  return { srv, email, pass };
}

test('a login over https with curl; answers carry HSTS; the listening line says https', async () => {
  const dir = tmpDir();
  const a = mkCert(dir, 'first');
  const { srv, email, pass } = await tlsServer(dir, a);
  try {
    const listening = srv.events().find((e) => e.event === 'listening');
    assert.equal(listening.scheme, 'https');
    const out = execFileSync('curl', ['-sS', '-i', '--cacert', a.cert, '--tlsv1.2',
      `https://127.0.0.1:${srv.port}/v1/auth/login`, '-H', 'Content-Type: application/json',
      '-d', JSON.stringify({ email, password: pass })], { encoding: 'utf8' });
    const [head, body] = out.split('\r\n\r\n');
    assert.match(head, /^HTTP\/1\.1 200 /);
    assert.match(head, /\r\nStrict-Transport-Security: max-age=31536000\r\n/i);
    const j = JSON.parse(body);
    noteSecret(j.token);
    noteSecret(j.refresh_token);
    assert.equal(typeof j.token, 'string');
    // The token works over https too.
    const me = execFileSync('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '--cacert', a.cert,
      `https://127.0.0.1:${srv.port}/v1/auth/me`, '-H', `Authorization: Bearer ${j.token}`], { encoding: 'utf8' });
    assert.equal(me, '200');
    // Plain HTTP on the TLS port is no answer at all.
    const plain = spawnSync('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '5',
      `http://127.0.0.1:${srv.port}/healthz`], { encoding: 'utf8' });
    assert.notEqual(plain.stdout, '200');
  } finally {
    await srv.stop();
  }
});

test('TLS 1.0 and 1.1 are refused, 1.2 and 1.3 accepted, CBC and non-forward-secret suites refused (openssl s_client)', async () => {
  const dir = tmpDir();
  const a = mkCert(dir, 'first');
  const b = mkCert(dir, 'rsa', { kind: 'rsa' });
  for (const c of [a, b]) {
    const { srv } = await tlsServer(dir, c);
    try {
      // SECLEVEL=0 so that the client itself is willing to speak the old
      // versions: the refusal must be the server's.
      for (const v of ['-tls1', '-tls1_1']) {
        const r = sClient(srv.port, [v, '-cipher', 'DEFAULT@SECLEVEL=0']);
        assert.equal(r.ok, false, `${v} was accepted:\n${r.out}`);
      }
      const r12 = sClient(srv.port, ['-tls1_2']);
      assert.ok(r12.ok, r12.out);
      assert.match(r12.out, /Protocol version: TLSv1\.2/);
      assert.match(r12.out, /Ciphersuite: ECDHE-(ECDSA|RSA)-(AES\d+-GCM-SHA\d+|CHACHA20-POLY1305)/);
      const r13 = sClient(srv.port, ['-tls1_3']);
      assert.ok(r13.ok, r13.out);
      assert.match(r13.out, /Protocol version: TLSv1\.3/);
      // No CBC, no RSA key transport, even when the client offers only those.
      const kx = c === a ? 'ECDHE-ECDSA' : 'ECDHE-RSA';
      const cbc = sClient(srv.port, ['-tls1_2', '-cipher', `${kx}-AES128-SHA:${kx}-AES128-SHA256`]);
      assert.equal(cbc.ok, false, `a CBC suite was accepted:\n${cbc.out}`);
      if (c === b) {
        const rsa = sClient(srv.port, ['-tls1_2', '-cipher', 'AES128-GCM-SHA256']);
        assert.equal(rsa.ok, false, `RSA key transport was accepted:\n${rsa.out}`);
      }
    } finally {
      await srv.stop();
    }
  }
});

test('SIGHUP: the next connection gets the new certificate; an open keep-alive connection finishes its request on the old one; a bad file is refused and the last good one kept', async () => {
  const dir = tmpDir();
  const a = mkCert(dir, 'first');
  const b = mkCert(dir, 'second');
  const live = { cert: path.join(dir, 'live.crt'), key: path.join(dir, 'live.key') };
  fs.copyFileSync(a.cert, live.cert);
  fs.copyFileSync(a.key, live.key);
  const { srv, email, pass } = await tlsServer(dir, live);
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
  const ca = [a.pem, b.pem];
  try {
    assert.equal(servedCn(srv.port), 'first');
    const r1 = await req(agent, srv.port, 'GET', '/healthz', { ca });
    assert.equal(r1.status, 200);
    assert.equal(r1.cn, 'first');
    // A login begun on the open connection before the reload...
    let finish;
    const started = new Promise((resolve) => { finish = resolve; });
    const inflight = req(agent, srv.port, 'POST', '/v1/auth/login', {
      ca, body: { email, password: pass }, partial: (rest) => finish(rest),
    });
    const rest = await started;
    fs.copyFileSync(b.cert, live.cert);
    fs.copyFileSync(b.key, live.key);
    srv.proc.kill('SIGHUP');
    await srv.waitLine((l) => l.includes('"event":"tls_reloaded"'));
    // ...new connections see the new certificate at once...
    assert.equal(servedCn(srv.port), 'second');
    // ...and the open one finishes on the old certificate, same socket.
    rest();
    const r2 = await inflight;
    assert.equal(r2.status, 200, r2.text);
    assert.equal(r2.reused, true);
    assert.equal(r2.socket, r1.socket);
    assert.equal(r2.cn, 'first');
    const tok = JSON.parse(r2.text);
    noteSecret(tok.token);
    noteSecret(tok.refresh_token);
    const r3 = await req(agent, srv.port, 'GET', '/healthz', { ca });
    assert.equal(r3.socket, r1.socket, 'the keep-alive connection was dropped by the reload');
    assert.equal(r3.status, 200);

    // A broken renewal: logged, refused, the last good certificate stays.
    fs.writeFileSync(live.cert, 'not a certificate\n');
    srv.proc.kill('SIGHUP');
    const bad = JSON.parse(await srv.waitLine((l) => l.includes('"event":"tls_reload_failed"')));
    assert.equal(bad.level, 'error');
    assert.match(bad.reason, /^TLS certificate .*live\.crt: /);
    assert.equal(servedCn(srv.port), 'second');
    // A certificate with another's key: refused too.
    fs.copyFileSync(a.cert, live.cert);
    srv.proc.kill('SIGHUP');
    await srv.waitLine((l) => l.includes('is not the key of certificate'));
    assert.equal(servedCn(srv.port), 'second');
    assert.equal(srv.events().filter((e) => e.event === 'tls_reloaded').length, 1);
  } finally {
    agent.destroy();
    await srv.stop();
  }
});

test('a bad certificate or key at start: one clear line and exit 1, before the store is touched', async () => {
  const dir = tmpDir();
  const a = mkCert(dir, 'first');
  const b = mkCert(dir, 'second');
  const junk = path.join(dir, 'junk.pem');
  fs.writeFileSync(junk, 'junk\n');
  const cases = [
    [['--tls-cert', junk, '--tls-key', a.key], /^tessera: TLS: TLS certificate .*junk\.pem: /],
    [['--tls-cert', a.cert, '--tls-key', junk], /^tessera: TLS: TLS key .*junk\.pem: /],
    [['--tls-cert', a.cert, '--tls-key', b.key], /^tessera: TLS: TLS key .*second\.key is not the key of certificate .*first\.crt$/],
    [['--tls-cert', path.join(dir, 'missing.crt'), '--tls-key', a.key], /^tessera: TLS: TLS certificate .*missing\.crt: No such file or directory$/],
    [['--tls-cert', a.cert], /^tessera: TLS: TLS needs both a certificate \(--tls-cert\) and a key \(--tls-key\)$/],
  ];
  for (const [args, want] of cases) {
    const db = path.join(tmpDir(), 'never.db');
    const r = await cli(['serve', '--listen', '127.0.0.1:0', ...args], { db });
    assert.equal(r.code, 1, `${args.join(' ')}: exit ${r.code}\n${r.stderr}`);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], want);
    if (!db.startsWith('postgres')) assert.equal(fs.existsSync(db), false, 'the store was created');
  }
});

test('plain HTTP on a non-loopback address is said once at start; loopback or TLS is not', async () => {
  const dir = tmpDir();
  const a = mkCert(dir, 'first');
  const warned = async (opts) => {
    const srv = await startServer(opts);
    await sleep(100);
    const n = srv.events().filter((e) => e.event === 'plaintext_listen').length;
    await srv.stop();
    return n;
  };
  assert.equal(await warned({ listen: '0.0.0.0:0' }), 1);
  assert.equal(await warned({ listen: ':0' }), 1);
  assert.equal(await warned({}), 0);
  assert.equal(await warned({ listen: '0.0.0.0:0', args: tlsArgs(a) }), 0);
});
