// Apache with mod_auth_openidc (Debian libapache2-mod-auth-openidc) as a
// relying party no one here wrote (issue 11): Apache runs in the
// foreground on a loopback port, in its own temp ServerRoot, with the
// module configured by contrib/apache-oidc.conf exactly as docs/OIDC.md
// shows it. Chromium (playwright-core) opens the protected page, is sent to
// the tenant's hosted sign-in page, signs in, and comes back to the page,
// which shows the email the module passes (REMOTE_USER from
// OIDCRemoteUserClaim, and the OIDC_CLAIM_email variable), through SSI.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import nodeHttp from 'node:http';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startServer, newDb, mkTenant, mkUser, noteSecret } from '../lib/server.js';
import { freePort, mkClient } from '../lib/oidc-helpers.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const SNIPPET = path.resolve(here, '../../../contrib/apache-oidc.conf');
const MODS = '/usr/lib/apache2/modules';
const sfx = crypto.randomBytes(3).toString('hex');
const T = `ap-${sfx}`;
const EMAIL = `ann-${sfx}@example.com`;
const PASSWORD = 'correct horse battery ' + crypto.randomBytes(6).toString('hex');
const PASSPHRASE = crypto.randomBytes(24).toString('hex');

let srv;
let browser;
let base;
let app;
let rp;
let apache;
let apacheLog = '';
let dir;

function apacheConf(port) {
  const www = path.join(dir, 'www');
  fs.mkdirSync(path.join(www, 'protected'), { recursive: true });
  fs.writeFileSync(path.join(www, 'protected', 'index.html'),
    '<!doctype html><title>protected</title>\n' +
    '<p id="user"><!--#echo var="REMOTE_USER" --></p>\n' +
    '<p id="claim"><!--#echo var="OIDC_CLAIM_email" --></p>\n');
  const asRoot = process.getuid?.() === 0 ? 'User nobody\nGroup nogroup\n' : '';
  return `ServerRoot "${dir}"
ServerName 127.0.0.1
Listen 127.0.0.1:${port}
PidFile "${dir}/apache.pid"
ErrorLog "${dir}/error.log"
LogLevel warn
DefaultRuntimeDir "${dir}"
${asRoot}LoadModule mpm_event_module ${MODS}/mod_mpm_event.so
LoadModule authn_core_module ${MODS}/mod_authn_core.so
LoadModule authz_core_module ${MODS}/mod_authz_core.so
LoadModule authz_user_module ${MODS}/mod_authz_user.so
LoadModule auth_openidc_module ${MODS}/mod_auth_openidc.so
LoadModule include_module ${MODS}/mod_include.so
DocumentRoot "${www}"
<Directory "${www}/protected">
  Options +Includes
  SetOutputFilter INCLUDES
</Directory>
Include "${SNIPPET}"
`;
}

async function startApache(port, env) {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-apache-'));
  fs.chmodSync(dir, 0o755);
  const conf = path.join(dir, 'httpd.conf');
  fs.writeFileSync(conf, apacheConf(port));
  apache = spawn('/usr/sbin/apache2', ['-f', conf, '-DFOREGROUND'], {
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  apache.stdout.on('data', (d) => { apacheLog += d; });
  apache.stderr.on('data', (d) => { apacheLog += d; });
  const exited = new Promise((resolve) => apache.on('exit', (code) => resolve(code)));
  for (let i = 0; i < 100; i++) {
    const r = await Promise.race([
      fetch(`http://127.0.0.1:${port}/`).then(() => 'up', () => null),
      exited.then((code) => `exit ${code}`),
    ]);
    if (r === 'up') return;
    if (r) throw new Error(`apache2 ${r}: ${apacheLog}${errorLog()}`);
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error(`apache2 did not start: ${apacheLog}${errorLog()}`);
}

/** GET as a browser's top-level navigation (no redirects followed). */
function navigate(url) {
  return new Promise((resolve, reject) => {
    const req = nodeHttp.get(url, { headers: { Accept: 'text/html,application/xhtml+xml', 'Sec-Fetch-Mode': 'navigate' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text }));
    });
    req.on('error', reject);
  });
}

function errorLog() {
  try {
    return fs.readFileSync(path.join(dir, 'error.log'), 'utf8');
  } catch {
    return '';
  }
}

before(async () => {
  const db = newDb();
  await mkTenant(db, T);
  await mkUser(db, T, EMAIL, PASSWORD);
  const port = await freePort();
  const aport = await freePort();
  base = `http://127.0.0.1:${port}`;
  app = `http://127.0.0.1:${aport}`;
  rp = await mkClient(db, T, { name: 'apache', firstParty: true, redirects: [`${app}/protected/redirect_uri`] });
  noteSecret(PASSPHRASE);
  srv = await startServer({ db, listen: `127.0.0.1:${port}`, args: ['--public-url', base, '--default-tenant', T] });
  await startApache(aport, {
    TESSERA_ISSUER: `${base}/t/${T}`,
    OIDC_CLIENT_ID: rp.id,
    OIDC_CLIENT_SECRET: rp.secret,
    APP_URL: app,
    OIDC_CRYPTO_PASSPHRASE: PASSPHRASE,
  });
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
});

after(async () => {
  await browser?.close();
  if (apache && apache.exitCode === null) {
    const gone = new Promise((resolve) => apache.on('exit', resolve));
    apache.kill('SIGTERM');
    await gone;
  }
  await srv?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test('docs/OIDC.md shows contrib/apache-oidc.conf verbatim (the snippet this test runs)', () => {
  const doc = fs.readFileSync(path.resolve(here, '../../../docs/OIDC.md'), 'utf8');
  assert.ok(doc.includes('```apache\n' + fs.readFileSync(SNIPPET, 'utf8') + '```\n'), 'the Apache section holds the file as it is');
});

test('Apache mod_auth_openidc: without a session the page is not served, the module sends the browser to authorize with PKCE and a nonce', async () => {
  // a browser's navigation: the module answers 401 instead of redirecting
  // to what it takes for XHR (fetch sends Sec-Fetch-Mode: cors)
  const r = await navigate(`${app}/protected/index.html`);
  assert.equal(r.status, 302, `${r.status}: ${r.text}`);
  const loc = new URL(r.headers.location);
  assert.equal(`${loc.origin}${loc.pathname}`, `${base}/t/${T}/authorize`);
  const q = loc.searchParams;
  assert.equal(q.get('response_type'), 'code');
  assert.equal(q.get('client_id'), rp.id);
  assert.equal(q.get('redirect_uri'), `${app}/protected/redirect_uri`);
  assert.deepEqual(q.get('scope').split(' ').sort(), ['email', 'openid']);
  assert.equal(q.get('code_challenge_method'), 'S256');
  assert.match(q.get('code_challenge'), /^[A-Za-z0-9_-]{43}$/);
  assert.ok(q.get('nonce'), 'a nonce');
  assert.ok(q.get('state'), 'a state');
  assert.doesNotMatch(r.text, new RegExp(EMAIL));
});

test('Apache mod_auth_openidc: Chromium opens the protected page, signs in on Tessera, and sees the email the module passes', { timeout: 60000 }, async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${app}/protected/index.html`, { waitUntil: 'domcontentloaded' });
  assert.match(page.url(), new RegExp(`^${base}/ui/login\\?`), 'sent to the hosted sign-in page');
  await page.fill('#email', EMAIL);
  await page.fill('#password', PASSWORD);
  await page.click('#login-submit');
  await page.waitForURL(`${app}/protected/index.html`, { timeout: 20000 }).catch((e) => {
    throw new Error(`${e.message}\nat ${page.url()}\napache: ${apacheLog}${errorLog()}`);
  });
  assert.equal((await page.textContent('#user')).trim(), EMAIL, 'REMOTE_USER from OIDCRemoteUserClaim email');
  assert.equal((await page.textContent('#claim')).trim(), EMAIL, 'OIDC_CLAIM_email from the ID token / userinfo');
  // the module's session cookie serves the page again without Tessera
  const again = await page.goto(`${app}/protected/index.html`);
  assert.equal(again.status(), 200);
  assert.equal(page.url(), `${app}/protected/index.html`);
  await context.close();
});
