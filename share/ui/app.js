// The hosted pages' one script (docs/PAGES.md). Sign-in goes through the
// page routes (/ui/session-*), which set the HttpOnly cookie; everything
// else calls the JSON API with a short-lived bearer the cookie buys at
// /ui/session-token. No framework, nothing from another origin.
'use strict';
(function () {
  const params = new URLSearchParams(location.search);
  const tenant = params.get('tenant');
  // Where to go after signing in (an OpenID Connect authorization, say):
  // a place of this origin only, as the URL parser reads it ("//host",
  // "/\host", "/<tab>/host" all name another origin).
  const returnTo = (() => {
    const back = params.get('return_to');
    if (!back || back[0] !== '/') return null;
    try {
      const u = new URL(back, location.origin);
      return u.origin === location.origin ? u.pathname + u.search + u.hash : null;
    } catch (e) { return null; }
  })();
  const keep = new URLSearchParams();
  if (tenant) keep.set('tenant', tenant);
  if (returnTo) keep.set('return_to', returnTo);
  const qs = keep.toString() ? '?' + keep.toString() : '';
  const $ = (id) => document.getElementById(id);
  let bearer = null;

  // Links keep the tenant.
  document.querySelectorAll('a[data-keep]').forEach((a) => { a.href = a.getAttribute('href') + qs; });

  async function call(method, path, body) {
    const headers = { 'Content-Type': 'application/json' };
    if (tenant) headers['X-Tenant-Slug'] = tenant;
    if (bearer && !path.startsWith('/ui/')) headers.Authorization = 'Bearer ' + bearer;
    const res = await fetch(path, { method, headers, credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body) });
    let data = null;
    const type = res.headers.get('Content-Type') || '';
    if (res.status === 204) data = null;
    else if (type.startsWith('application/json')) data = await res.json();
    else data = await res.text();
    return { status: res.status, data };
  }
  const post = (path, body) => call('POST', path, body === undefined ? {} : body);
  const withTenant = (o) => (tenant ? Object.assign({ tenant_slug: tenant }, o) : o);

  function show(id, text) {
    const el = $(id);
    if (!el) return;
    el.textContent = text || '';
    el.hidden = !text;
  }
  // An error: its text, and the focus back on the first field it describes.
  function fail(id, r, fallback) {
    const msg = r && r.data && r.data.message ? r.data.message : fallback || 'Something went wrong.';
    show(id, msg);
    const field = document.querySelector('[aria-describedby~="' + id + '"]');
    if (field) field.focus();
  }

  // ---- WebAuthn JSON forms (base64url) ----
  const b64u = {
    dec(s) {
      s = s.replace(/-/g, '+').replace(/_/g, '/');
      while (s.length % 4) s += '=';
      return Uint8Array.from(atob(s), (c) => c.charCodeAt(0)).buffer;
    },
    enc(buf) {
      let s = '';
      new Uint8Array(buf).forEach((b) => { s += String.fromCharCode(b); });
      return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    },
  };

  // A small secondary button in a list row: text, its accessible name, what a click does.
  function smallButton(text, label, onClick) {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'small secondary';
    b.textContent = text;
    b.setAttribute('aria-label', label);
    b.addEventListener('click', onClick);
    return b;
  }

  function requestOptions(pk) {
    const o = Object.assign({}, pk, { challenge: b64u.dec(pk.challenge) });
    if (pk.allowCredentials)
      o.allowCredentials = pk.allowCredentials.map((c) => Object.assign({}, c, { id: b64u.dec(c.id) }));
    return o;
  }
  function creationOptions(pk) {
    const o = Object.assign({}, pk, { challenge: b64u.dec(pk.challenge),
      user: Object.assign({}, pk.user, { id: b64u.dec(pk.user.id) }) });
    if (pk.excludeCredentials)
      o.excludeCredentials = pk.excludeCredentials.map((c) => Object.assign({}, c, { id: b64u.dec(c.id) }));
    return o;
  }
  function credJSON(c) {
    const r = c.response;
    const out = { id: c.id, rawId: b64u.enc(c.rawId), type: c.type,
      clientExtensionResults: c.getClientExtensionResults ? c.getClientExtensionResults() : {},
      authenticatorAttachment: c.authenticatorAttachment || undefined,
      response: { clientDataJSON: b64u.enc(r.clientDataJSON) } };
    if (r.attestationObject) {
      out.response.attestationObject = b64u.enc(r.attestationObject);
      if (r.getTransports) out.response.transports = r.getTransports();
    } else {
      out.response.authenticatorData = b64u.enc(r.authenticatorData);
      out.response.signature = b64u.enc(r.signature);
      if (r.userHandle) out.response.userHandle = b64u.enc(r.userHandle);
    }
    return out;
  }

  const signedIn = () => { location.href = returnTo || '/ui/account' + qs; };

  // ---- sign in ----
  function pageLogin() {
    let conditional = null;
    async function passkey(mediation) {
      const o = await post('/v1/auth/passkey/options', withTenant({}));
      if (o.status !== 200) return fail('login-error', o);
      if (conditional) conditional.abort();
      const ctl = new AbortController();
      if (mediation === 'conditional') conditional = ctl;
      let cred;
      try {
        cred = await navigator.credentials.get({ publicKey: requestOptions(o.data.publicKey),
          mediation, signal: ctl.signal });
      } catch (e) {
        if (mediation !== 'conditional') show('login-error', 'The passkey was not used.');
        return;
      }
      const r = await post('/ui/session-passkey', withTenant({ challenge_id: o.data.challenge_id,
        credential: credJSON(cred) }));
      if (r.status === 200) signedIn(); else fail('login-error', r);
    }
    if (window.PublicKeyCredential && PublicKeyCredential.isConditionalMediationAvailable)
      PublicKeyCredential.isConditionalMediationAvailable().then((ok) => { if (ok) passkey('conditional'); });
    $('passkey-signin').addEventListener('click', () => passkey('required'));
    $('login-form').addEventListener('submit', async (ev) => {
      ev.preventDefault();
      show('login-error', '');
      const r = await post('/ui/session-password', withTenant({ email: $('email').value,
        password: $('password').value }));
      if (r.status === 200 && r.data.signed_in) return signedIn();
      if (r.status === 200 && r.data.mfa_required) {
        sessionStorage.setItem('tessera-challenge', JSON.stringify({ id: r.data.challenge_id,
          methods: r.data.methods }));
        location.href = '/ui/mfa' + qs;
        return;
      }
      fail('login-error', r);
    });
  }

  // ---- the second factor ----
  const LABELS = { totp: 'Code from your authenticator app', email: 'Code mailed to you',
    recovery_code: 'A recovery code', webauthn_passkey: 'Your passkey',
    webauthn_fido: 'Your security key' };
  function pageMfa() {
    const ch = JSON.parse(sessionStorage.getItem('tessera-challenge') || 'null');
    if (!ch) { location.href = '/ui/login' + qs; return; }
    let method = null;
    function choose(m) {
      method = m;
      show('mfa-error', '');
      const typed = m === 'totp' || m === 'email' || m === 'recovery_code';
      $('code-form').hidden = !typed;
      $('key-panel').hidden = typed;
      $('email-send').hidden = m !== 'email';
      $('code-label').textContent = LABELS[m];
      $('code-hint').textContent = m === 'recovery_code' ? 'Each code works once.' :
        m === 'email' ? 'Ask for a mail, then type the 6 digits.' : 'Type the 6 digits the app shows.';
      $('key-hint').textContent = m === 'webauthn_passkey' ? 'Use the passkey of this account.' :
        'Insert or touch your security key.';
      document.querySelectorAll('#mfa-methods button').forEach((b) => {
        b.setAttribute('aria-pressed', String(b.dataset.method === m));
      });
      if (typed) { $('code').value = ''; $('code').focus(); } else $('key-start').focus();
    }
    ch.methods.forEach((m) => {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'secondary';
      b.dataset.method = m;
      b.id = 'method-' + m;
      b.textContent = LABELS[m] || m;
      b.addEventListener('click', () => choose(m));
      $('mfa-methods').appendChild(b);
    });
    async function finish(body) {
      const r = await post('/ui/session-mfa', Object.assign({ challenge_id: ch.id, method }, body));
      if (r.status === 200) { sessionStorage.removeItem('tessera-challenge'); return signedIn(); }
      fail('mfa-error', r);
    }
    $('code-form').addEventListener('submit', (ev) => { ev.preventDefault(); finish({ code: $('code').value.trim() }); });
    $('email-send').addEventListener('click', async () => {
      const r = await post('/v1/auth/mfa/email/send', { challenge_id: ch.id });
      if (r.status === 202) show('code-hint', 'We mailed you a code.'); else fail('mfa-error', r);
    });
    $('key-start').addEventListener('click', async () => {
      const o = await post('/v1/auth/mfa/webauthn/options', { challenge_id: ch.id });
      if (o.status !== 200) return fail('mfa-error', o);
      try {
        const cred = await navigator.credentials.get({ publicKey: requestOptions(o.data.publicKey) });
        finish({ credential: credJSON(cred) });
      } catch (e) { show('mfa-error', 'The key was not used.'); }
    });
    choose(ch.methods[0]);
  }

  // ---- sign up, verify, forgot, reset ----
  function pageSignup() {
    $('signup-form').addEventListener('submit', async (ev) => {
      ev.preventDefault();
      show('signup-error', '');
      const r = await post('/v1/auth/register', withTenant({ email: $('email').value, password: $('password').value }));
      if (r.status === 202) show('signup-ok', 'Check your mail: we sent a link to verify your address.');
      else fail('signup-error', r);
    });
  }
  async function pageVerify() {
    const r = await post('/v1/auth/verify', { token: params.get('token') || '' });
    if (r.status === 200) show('verify-ok', 'Your address is verified. You can sign in now.');
    else { show('verify-ok', ''); fail('verify-error', r, 'This link does not work any more.'); }
  }
  function pageForgot() {
    $('forgot-form').addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const r = await post('/v1/auth/password/forgot', withTenant({ email: $('email').value }));
      if (r.status === 202) show('forgot-ok', 'If that address has an account, a reset link is on its way.');
      else fail('forgot-error', r);
    });
  }
  function pageReset() {
    $('reset-form').addEventListener('submit', async (ev) => {
      ev.preventDefault();
      show('reset-error', '');
      const r = await post('/v1/auth/password/reset', { token: params.get('token') || '', password: $('password').value });
      if (r.status === 204) show('reset-ok', 'Your password is set. Sign in with it now.');
      else fail('reset-error', r);
    });
  }

  // ---- the account ----
  async function pageAccount() {
    const t = await post('/ui/session-token', withTenant({}));
    if (t.status !== 200) { location.href = '/ui/login' + qs; return; }
    bearer = t.data.token;
    show('who', 'Signed in as ' + t.data.email);
    // An enrolment-only session (the tenant requires a second factor the
    // user lacks): prove it by mail, set one up, then sign in with it.
    const enrolling = t.data.enrollment_required;
    const enrolled = () => {
      if (!enrolling) return false;
      $('enrol-done').hidden = false;
      $('sec-factors').hidden = true;
      $('enrol-again').focus();
      return true;
    };
    if (enrolling) {
      $('enrol').hidden = false;
      $('sec-password').hidden = true;
      $('sec-recovery').hidden = true;
      $('sec-factors').hidden = true;
      $('sec-consents').hidden = true;
      $('enrol-send').addEventListener('click', async () => {
        const r = await post('/v1/mfa/enroll/email/send');
        if (r.status === 202) show('enrol-ok', 'We mailed you a code.'); else fail('enrol-error', r);
        $('enrol-code').focus();
      });
      $('enrol-form').addEventListener('submit', async (ev) => {
        ev.preventDefault();
        const r = await post('/v1/mfa/enroll/email/verify', { code: $('enrol-code').value.trim() });
        if (r.status !== 200) return fail('enrol-error', r);
        $('enrol-form').hidden = true;
        $('enrol-send').hidden = true;
        $('enrol-intro').textContent = 'Thank you. Now choose your second factor below.';
        $('sec-factors').hidden = false;
        $('totp-start').focus();
      });
      $('enrol-again').addEventListener('click', async () => {
        await post('/ui/session-end', {});
        location.href = '/ui/login' + qs;
      });
    }
    async function factors() {
      const r = await call('GET', '/v1/mfa/factors');
      const ul = $('factors');
      ul.textContent = '';
      if (r.status !== 200) return;
      r.data.factors.forEach((f) => {
        const li = document.createElement('li');
        li.textContent = (LABELS[f.method] ? f.method.replace('webauthn_', '') : f.method) + ': ' + f.name +
          (f.remaining !== undefined ? ' (' + f.remaining + ' left)' : '');
        li.dataset.method = f.method;
        const b = smallButton('Remove', 'Remove ' + f.name, async () => {
          const d = await call('DELETE', '/v1/mfa/factors/' + encodeURIComponent(f.id));
          if (d.status === 204) { show('factor-ok', 'Removed.'); factors(); } else fail('factor-error', d);
        });
        li.appendChild(b);
        ul.appendChild(li);
      });
    }
    async function consents() {
      const r = await call('GET', '/v1/auth/consents');
      const ul = $('consents');
      ul.textContent = '';
      if (r.status !== 200) return;
      $('consents-none').hidden = r.data.items.length > 0;
      r.data.items.forEach((c) => {
        const li = document.createElement('li');
        li.textContent = c.client_name + ': ' + c.scope + ' · since ' + c.created_at;
        li.dataset.client = c.client_id;
        const b = smallButton('Revoke', 'Revoke the consent to ' + c.client_name, async () => {
          const d = await call('DELETE', '/v1/auth/consents/' + encodeURIComponent(c.client_id));
          if (d.status === 204) { show('consent-ok', 'Revoked.'); consents(); sessions(); } else fail('consent-error', d);
        });
        li.appendChild(b);
        ul.appendChild(li);
      });
    }
    async function sessions() {
      const r = await call('GET', '/v1/auth/sessions');
      const ul = $('sessions');
      ul.textContent = '';
      if (r.status !== 200) return;
      r.data.items.forEach((s) => {
        const li = document.createElement('li');
        li.textContent = (s.user_agent || 'Unknown browser') + ' · ' + (s.ip || '') + ' · since ' +
          s.created_at + (s.current ? ' (this one)' : '');
        const b = smallButton('Sign out', 'Sign out the session started ' + s.created_at, async () => {
          await call('DELETE', '/v1/auth/sessions/' + encodeURIComponent(s.id));
          if (s.current) location.href = '/ui/login' + qs; else sessions();
        });
        li.appendChild(b);
        ul.appendChild(li);
      });
    }
    $('password-form').addEventListener('submit', async (ev) => {
      ev.preventDefault();
      show('password-error', ''); show('password-ok', '');
      const r = await post('/v1/auth/password/change', { current_password: $('current').value, password: $('newpw').value });
      if (r.status === 204) { show('password-ok', 'Your password is changed.'); sessions(); }
      else fail('password-error', r);
    });
    $('totp-start').addEventListener('click', async () => {
      show('factor-error', '');
      const r = await post('/v1/mfa/totp/enroll');
      if (r.status !== 200) return fail('factor-error', r);
      const q = await post('/ui/qr', withTenant({ text: r.data.otpauth_uri }));
      if (q.status === 200) {
        const svg = new DOMParser().parseFromString(q.data, 'image/svg+xml').documentElement;
        $('totp-qr').textContent = '';
        $('totp-qr').appendChild(document.importNode(svg, true));
      }
      $('totp-secret').textContent = r.data.secret;
      $('totp-panel').hidden = false;
      $('totp-code').focus();
    });
    $('totp-form').addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const r = await post('/v1/mfa/totp/confirm', { code: $('totp-code').value.trim() });
      if (r.status !== 200) return fail('totp-error', r);
      $('totp-panel').hidden = true;
      show('factor-ok', 'Your authenticator app is set up.');
      if (!enrolled()) factors();
    });
    async function addKey(kind) {
      show('factor-error', ''); show('factor-ok', '');
      const o = await post('/v1/mfa/webauthn/register/options', { kind });
      if (o.status !== 200) return fail('factor-error', o);
      let cred;
      try { cred = await navigator.credentials.create({ publicKey: creationOptions(o.data.publicKey) }); }
      catch (e) { return show('factor-error', 'The key was not registered.'); }
      const r = await post('/v1/mfa/webauthn/register', { credential: credJSON(cred),
        name: kind === 'passkey' ? 'Passkey' : 'Security key' });
      if (r.status === 201) {
        show('factor-ok', kind === 'passkey' ? 'Passkey added.' : 'Security key added.');
        if (!enrolled()) factors();
      }
      else fail('factor-error', r);
    }
    $('passkey-add').addEventListener('click', () => addKey('passkey'));
    $('key-add').addEventListener('click', () => addKey('security_key'));
    $('recovery-new').addEventListener('click', async () => {
      const r = await post('/v1/mfa/recovery-codes');
      if (r.status !== 200) return fail('factor-error', r);
      const ol = $('recovery-codes');
      ol.textContent = '';
      r.data.codes.forEach((c) => { const li = document.createElement('li'); li.textContent = c; ol.appendChild(li); });
      factors();
    });
    $('signout').addEventListener('click', async () => {
      await post('/ui/session-end', {});
      location.href = '/ui/login' + qs;
    });
    if (!enrolling) { factors(); consents(); }
    sessions();
  }

  const pages = { login: pageLogin, mfa: pageMfa, signup: pageSignup, verify: pageVerify,
    forgot: pageForgot, reset: pageReset, account: pageAccount };
  const run = pages[document.body.dataset.page];
  if (run) run();
})();
