// The hosted pages in a real browser (issue 10): Debian's Chromium driven by
// playwright-core, with the DevTools virtual authenticator for passkeys
// (internal, resident keys, UV) and security keys (usb). TOTP is enrolled
// by decoding the page's QR code with zbarimg; mails come from a real SMTP
// server. One browser for the file, one context per test; a screenshot of
// every page goes to tests/e2e/artifacts/.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import otplib from 'otplib';
import { startServer, newDb, mkTenant, mkUser, cliOk, noteSecret } from '../lib/server.js';
import { startMail, freePort } from '../lib/mail.js';

const { authenticator } = otplib;
const ART = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'artifacts');
const password = () => 'correct horse battery ' + crypto.randomBytes(6).toString('hex');

describe('hosted pages in Chromium', { timeout: 110000 }, () => {
  let srv, mail, browser, base;
  const db = newDb();

  before(async () => {
    fs.mkdirSync(ART, { recursive: true });
    mail = await startMail();
    await cliOk(['tenant', 'add', 'acme', '--registration-open'], { db });
    await mkTenant(db, 'strict', { mfaRequired: true });
    await mkTenant(db, 'mailco');
    await cliOk(['tenant', 'mfa', 'mailco', 'optional', 'totp,email,recovery_code'], { db });
    const port = await freePort();
    base = `http://localhost:${port}`;
    srv = await startServer({
      db,
      listen: `127.0.0.1:${port}`,
      args: ['--default-tenant', 'acme', '--webauthn-rp-id', 'localhost', '--webauthn-origins', base,
        '--smtp-url', mail.url, '--public-url', base, '--mail-poll', '1'],
    });
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
  });
  after(async () => {
    await browser?.close();
    await srv?.stop();
    await mail?.stop();
  });

  /** A fresh context and page, with a virtual authenticator when asked. */
  async function open(authOpts) {
    const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
    const page = await context.newPage();
    page.on('pageerror', (e) => console.log('pageerror', e.message));
    let auth = null;
    if (authOpts) {
      const cdp = await context.newCDPSession(page);
      await cdp.send('WebAuthn.enable');
      auth = await cdp.send('WebAuthn.addVirtualAuthenticator', {
        options: { protocol: 'ctap2', automaticPresenceSimulation: true, isUserVerified: true, ...authOpts },
      });
      auth.cdp = cdp;
    }
    return { context, page, auth };
  }
  const shot = (page, name) => page.screenshot({ path: path.join(ART, name + '.png'), fullPage: true });

  async function signIn(page, email, pw) {
    if (page.url() !== base + '/ui/login') await page.goto(base + '/ui/login', { waitUntil: 'domcontentloaded' });
    await page.fill('#email', email);
    await page.fill('#password', pw);
    await page.click('#login-submit');
  }
  async function expectAccount(page, email) {
    await page.waitForURL(base + '/ui/account');
    await page.waitForSelector(`#who:has-text("${email}")`);
  }
  async function signOut(page) {
    await page.click('#signout');
    await page.waitForURL(base + '/ui/login');
  }

  it('password sign-in, then a passkey added on the account page signs in passwordless', async () => {
    const email = 'pia@example.com', pw = password();
    await mkUser(db, 'acme', email, pw);
    const { context, page } = await open({ transport: 'internal', hasResidentKey: true, hasUserVerification: true });
    await page.goto(base + '/ui/login');
    await shot(page, 'login');
    await signIn(page, email, pw);
    await expectAccount(page, email);
    await page.click('#passkey-add');
    await page.waitForSelector('#factor-ok:has-text("Passkey added.")');
    await page.waitForSelector('#factors li[data-method="webauthn_passkey"]');
    await shot(page, 'account');
    await signOut(page);
    // the cookie is gone: the account page sends us back
    // Back at the sign-in page, passkey autofill (conditional mediation)
    // offers the passkey; the virtual authenticator answers at once, so
    // this signs in without a password.
    await page.goto(base + '/ui/account', { waitUntil: 'commit' });
    await expectAccount(page, email);
    await context.close();
  });

  it('TOTP enrolled from the QR code (zbarimg), then the second-factor step takes an otplib code; a recovery code works too', async () => {
    const email = 'tia@example.com', pw = password();
    await mkUser(db, 'acme', email, pw);
    const { context, page } = await open();
    await signIn(page, email, pw);
    await expectAccount(page, email);
    await page.click('#totp-start');
    const qr = await page.waitForSelector('#totp-qr svg');
    const file = path.join(ART, 'account-totp-qr.png');
    await qr.screenshot({ path: file });
    await shot(page, 'account-totp');
    const uri = execFileSync('zbarimg', ['--raw', '-q', file], { encoding: 'utf8' }).trim();
    assert.match(uri, /^otpauth:\/\/totp\//);
    const secret = new URL(uri).searchParams.get('secret');
    noteSecret(secret);
    assert.equal(await page.textContent('#totp-secret'), secret, 'the text secret is the QR code\'s');
    await page.fill('#totp-code', authenticator.generate(secret));
    await page.click('#totp-form button[type=submit]');
    await page.waitForSelector('#factors li[data-method="totp"]');
    await page.click('#recovery-new');
    await page.waitForSelector('#recovery-codes li');
    const codes = await page.$$eval('#recovery-codes li', (l) => l.map((x) => x.textContent));
    assert.equal(codes.length, 10);
    codes.forEach(noteSecret);
    await signOut(page);

    // next step: wait for a fresh TOTP step (the last one was used to enrol)
    await new Promise((r) => setTimeout(r, (30 - (Math.floor(Date.now() / 1000) % 30)) * 1000 + 200));
    await signIn(page, email, pw);
    await page.waitForURL(base + '/ui/mfa');
    await page.waitForSelector('#method-totp');
    await page.waitForSelector('#method-recovery_code');
    await shot(page, 'mfa-totp');
    await page.fill('#code', '000000' === authenticator.generate(secret) ? '111111' : '000000');
    await page.click('#code-submit');
    await page.waitForSelector('#mfa-error:not([hidden])');
    const err = await page.getAttribute('#code', 'aria-describedby');
    assert.match(err, /mfa-error/);
    await shot(page, 'mfa-error');
    await page.fill('#code', authenticator.generate(secret));
    await page.click('#code-submit');
    await expectAccount(page, email);
    await signOut(page);

    await signIn(page, email, pw);
    await page.waitForURL(base + '/ui/mfa');
    await page.click('#method-recovery_code');
    await shot(page, 'mfa-recovery');
    await page.fill('#code', codes[0]);
    await page.click('#code-submit');
    await expectAccount(page, email);
    await page.waitForSelector('#factors li[data-method="recovery_code"]:has-text("9 left")');
    // removing the app (a fresh sign-in: no reauth needed)
    await page.click('#factors li[data-method="totp"] button');
    await page.waitForSelector('#factor-ok:has-text("Removed.")');
    await page.waitForSelector('#factors li[data-method="totp"]', { state: 'detached' });
    await context.close();
  });

  it('a security key (usb) and a passkey as the second factor', async () => {
    const email = 'sia@example.com', pw = password();
    await mkUser(db, 'acme', email, pw);
    const { context, page } = await open();
    await signIn(page, email, pw);
    await expectAccount(page, email);
    const cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    const auth = await cdp.send('WebAuthn.addVirtualAuthenticator', { options: { protocol: 'ctap2', transport: 'usb',
      hasResidentKey: false, hasUserVerification: false, automaticPresenceSimulation: true } });
    await page.click('#key-add');
    await page.waitForSelector('#factor-ok:has-text("Security key added.")');
    await signOut(page);
    await signIn(page, email, pw);
    await page.waitForURL(base + '/ui/mfa');
    await page.waitForSelector('#method-webauthn_fido');
    await shot(page, 'mfa-security-key');
    await page.click('#key-start');
    await expectAccount(page, email);
    assert.ok(auth.authenticatorId);
    await context.close();

    const email2 = 'kia@example.com', pw2 = password();
    await mkUser(db, 'acme', email2, pw2);
    const b = await open({ transport: 'internal', hasResidentKey: true, hasUserVerification: true });
    await signIn(b.page, email2, pw2);
    await expectAccount(b.page, email2);
    await b.page.click('#passkey-add');
    await b.page.waitForSelector('#factor-ok:has-text("Passkey added.")');
    // no presence while the sign-in page's autofill waits: the password path
    await b.auth.cdp.send('WebAuthn.setAutomaticPresenceSimulation', { authenticatorId: b.auth.authenticatorId, enabled: false });
    await signOut(b.page);
    await signIn(b.page, email2, pw2);
    await b.page.waitForURL(base + '/ui/mfa');
    await b.auth.cdp.send('WebAuthn.setAutomaticPresenceSimulation', { authenticatorId: b.auth.authenticatorId, enabled: true });
    await b.page.click('#method-webauthn_passkey');
    await b.page.click('#key-start');
    await expectAccount(b.page, email2);
    await b.context.close();
  });

  it('sign up, verify by the mailed link, forgot and reset by the mailed link', async () => {
    const email = 'new' + crypto.randomBytes(3).toString('hex') + '@example.com', pw = password(), pw2 = password();
    noteSecret(pw); noteSecret(pw2);
    const { context, page } = await open();
    await page.goto(base + '/ui/signup');
    await page.fill('#email', email);
    await page.fill('#password', pw);
    await shot(page, 'signup');
    await page.click('#signup-form button[type=submit]');
    await page.waitForSelector('#signup-ok:not([hidden])');
    const v = await mail.next((m) => m.to === email && /verify/.test(m.link ?? m.text));
    const vlink = /(\S+\/verify\?token=[A-Za-z0-9_-]{43})/.exec(v.text)[1];
    assert.ok(vlink.startsWith(base + '/verify?token='), vlink);
    await page.goto(vlink);
    await page.waitForSelector('#verify-ok:has-text("verified")');
    await shot(page, 'verify');
    await page.goto(base + '/ui/forgot');
    await page.fill('#email', email);
    await shot(page, 'forgot');
    await page.click('#forgot-form button[type=submit]');
    await page.waitForSelector('#forgot-ok:not([hidden])');
    const r = await mail.next((m) => m.to === email && /reset\?token=/.test(m.text));
    const rlink = /(\S+\/reset\?token=[A-Za-z0-9_-]{43})/.exec(r.text)[1];
    await page.goto(rlink);
    await page.fill('#password', pw2);
    await shot(page, 'reset');
    await page.click('#reset-form button[type=submit]');
    await page.waitForSelector('#reset-ok:not([hidden]), #reset-error:not([hidden])');
    assert.equal(await page.isVisible('#reset-error'), false, await page.textContent('#reset-error'));
    await signIn(page, email, pw2);
    await expectAccount(page, email);
    // and a new password from the account page
    const pw3 = password();
    noteSecret(pw3);
    await page.fill('#current', 'not it ' + pw2);
    await page.fill('#newpw', pw3);
    await page.click('#password-form button[type=submit]');
    await page.waitForSelector('#password-error:not([hidden])');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'current', 'the focus is back on the field');
    await shot(page, 'account-password-error');
    await page.fill('#current', pw2);
    await page.click('#password-form button[type=submit]');
    await page.waitForSelector('#password-ok:has-text("Your password is changed.")');
    await signOut(page);
    await signIn(page, email, pw3);
    await expectAccount(page, email);
    await context.close();
  });

  it('a tenant that requires MFA: the enrolment is proven by a mailed code, a passkey is set up, then it signs in with it', async () => {
    const email = 'eva@example.com', pw = password();
    await mkUser(db, 'strict', email, pw);
    const { context, page, auth } = await open({ transport: 'internal', hasResidentKey: true, hasUserVerification: true });
    await page.goto(base + '/ui/login?tenant=strict');
    await page.fill('#email', email);
    await page.fill('#password', pw);
    await page.click('#login-submit');
    await page.waitForURL(base + '/ui/account?tenant=strict');
    await page.waitForSelector('#enrol:not([hidden])');
    assert.equal(await page.isVisible('#sec-password'), false);
    await page.click('#enrol-send');
    await page.waitForSelector('#enrol-ok:has-text("We mailed you a code.")');
    const m = await mail.next((x) => x.to === email);
    const code = /\b(\d{6})\b/.exec(m.text)[1];
    await page.fill('#enrol-code', code);
    await shot(page, 'account-enrol');
    await page.click('#enrol-form button[type=submit]');
    await page.waitForSelector('#sec-factors:not([hidden])');
    await page.click('#passkey-add');
    await page.waitForSelector('#enrol-done:not([hidden])');
    // sign in again, with the password and the new passkey
    await auth.cdp.send('WebAuthn.setAutomaticPresenceSimulation', { authenticatorId: auth.authenticatorId, enabled: false });
    await page.click('#enrol-again');
    await page.waitForURL(base + '/ui/login?tenant=strict');
    await page.fill('#email', email);
    await page.fill('#password', pw);
    await page.click('#login-submit');
    await page.waitForURL(base + '/ui/mfa?tenant=strict');
    await auth.cdp.send('WebAuthn.setAutomaticPresenceSimulation', { authenticatorId: auth.authenticatorId, enabled: true });
    await page.click('#method-webauthn_passkey');
    await page.click('#key-start');
    await page.waitForURL(base + '/ui/account?tenant=strict');
    await page.waitForSelector('#factors li[data-method="webauthn_passkey"]');
    assert.equal(await page.isVisible('#enrol'), false);
    await context.close();
  });

  it('the second-factor step switches to a code mailed to the user', async () => {
    const email = 'mo@example.com', pw = password();
    await mkUser(db, 'mailco', email, pw);
    const { context, page } = await open();
    const q = '?tenant=mailco';
    await page.goto(base + '/ui/login' + q);
    await page.fill('#email', email);
    await page.fill('#password', pw);
    await page.click('#login-submit');
    await page.waitForURL(base + '/ui/account' + q);
    await page.click('#totp-start');
    await page.waitForSelector('#totp-qr svg');
    const secret = await page.textContent('#totp-secret');
    noteSecret(secret);
    await page.fill('#totp-code', authenticator.generate(secret));
    await page.click('#totp-form button[type=submit]');
    await page.waitForSelector('#factors li[data-method="totp"]');
    await page.click('#signout');
    await page.waitForURL(base + '/ui/login' + q);
    await page.fill('#email', email);
    await page.fill('#password', pw);
    await page.click('#login-submit');
    await page.waitForURL(base + '/ui/mfa' + q);
    assert.deepEqual(await page.$$eval('#mfa-methods button', (b) => b.map((x) => x.dataset.method)), ['totp', 'email']);
    assert.equal(await page.getAttribute('#method-totp', 'aria-pressed'), 'true');
    await page.click('#method-email');
    assert.equal(await page.getAttribute('#method-email', 'aria-pressed'), 'true');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'code');
    await page.click('#email-send');
    await page.waitForSelector('#code-hint:has-text("We mailed you a code.")');
    const m = await mail.next((x) => x.to === email);
    const code = /\b(\d{6})\b/.exec(m.text)[1];
    await shot(page, 'mfa-email');
    await page.fill('#code', code);
    await page.click('#code-submit');
    await page.waitForURL(base + '/ui/account' + q);
    await context.close();
  });

  it('return_to: a sign-in goes back to a path of this origin, never to another one', async () => {
    const email = 'rita@example.com', pw = password();
    await mkUser(db, 'acme', email, pw);
    const { context, page } = await open();
    for (const [to, want] of [['/ui/forgot?x=1', '/ui/forgot?x=1'], ['//evil.test/x', '/ui/account'],
      ['/\\evil.test/x', '/ui/account'], ['/\t/evil.test/x', '/ui/account'], ['https://evil.test/', '/ui/account']]) {
      await page.goto(base + '/ui/login?return_to=' + encodeURIComponent(to));
      await page.fill('#email', email);
      await page.fill('#password', pw);
      await page.click('#login-submit');
      await page.waitForURL((u) => u.pathname !== '/ui/login');
      assert.equal(new URL(page.url()).origin, base, to);
      assert.ok(page.url().startsWith(base + want), `${to} -> ${page.url()}`);
      await page.goto(base + '/ui/account');
      await signOut(page);
    }
    await context.close();
  });

  it('CSRF: a cross-site form post and a cross-site text/plain fetch change nothing', async () => {
    const email = 'cia@example.com', pw = password();
    await mkUser(db, 'acme', email, pw);
    const { context, page } = await open();
    await signIn(page, email, pw);
    await expectAccount(page, email);
    const before = (await context.cookies()).find((c) => c.name === 'tessera');
    assert.ok(before, 'a session cookie');
    assert.equal(before.httpOnly, true);
    assert.equal(before.sameSite, 'Lax');
    // An attacker's page on another origin, served by the test.
    await page.route('http://evil.test/**', (route) => route.fulfill({ contentType: 'text/html', body:
      `<form id="f" method="POST" action="${base}/ui/session-end" enctype="text/plain"><input name="{}" value=""></form>` +
      `<script>fetch("${base}/v1/auth/password/change",{method:"POST",mode:"no-cors",credentials:"include",` +
      `headers:{"Content-Type":"text/plain"},body:JSON.stringify({current_password:${JSON.stringify(pw)},password:"x".repeat(20)})})` +
      `.finally(()=>{document.title="sent";document.getElementById("f").submit();});</script>` }));
    await page.goto('http://evil.test/');
    await page.waitForURL(base + '/ui/session-end');
    assert.match(await page.content(), /cross_site/);
    await page.goto(base + '/ui/account');
    await expectAccount(page, email); // still signed in, same password
    const c2 = await open();
    await signIn(c2.page, email, pw);
    await expectAccount(c2.page, email);
    // the second browser lists both sessions and signs the first one out
    await c2.page.waitForSelector('#sessions li:nth-child(2)');
    assert.equal(await c2.page.locator('#sessions li:has-text("(this one)")').count(), 1);
    await c2.page.click('#sessions li:not(:has-text("(this one)")) button');
    await c2.page.waitForSelector('#sessions li:nth-child(2)', { state: 'detached' });
    await shot(c2.page, 'account-sessions');
    await page.goto(base + '/ui/account', { waitUntil: 'commit' });
    await page.waitForURL(base + '/ui/login');
    await context.close();
    await c2.context.close();
  });
});
