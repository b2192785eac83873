// A real SMTP server for the black-box tests (npm smtp-server), whose mails
// are parsed by npm mailparser: the tests read what a mail client would.
import assert from 'node:assert/strict';
import net from 'node:net';
import { SMTPServer } from 'smtp-server';
import { simpleParser } from 'mailparser';
import { noteSecret } from './server.js';

/** A free TCP port on 127.0.0.1 (for a mail server started later). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * What a test needs of one mail: both parts, and the token, link and code
 * found in them (from the plain part; the HTML part is checked to carry
 * the same link and code).
 */
function digest(parsed, raw, envelopeTo) {
  const text = parsed.text ?? '';
  const html = typeof parsed.html === 'string' ? parsed.html : '';
  const link = /(\S+\/(?:verify|reset)\?token=([A-Za-z0-9_-]{43}))/.exec(text);
  const bare = /Your token:\s*\n([A-Za-z0-9_-]{43})/.exec(text);
  const code = /enter this code instead: (\d{6})/i.exec(text);
  const token = link ? link[2] : bare ? bare[1] : null;
  if (token) noteSecret(token);
  return {
    to: envelopeTo,
    subject: parsed.subject,
    contentType: parsed.headers.get('content-type')?.value,
    text,
    html,
    raw,
    link: link ? link[1] : null,
    token,
    code: code ? code[1] : null,
  };
}

/**
 * Starts an SMTP server on 127.0.0.1 (port 0: any). Resolves
 * {url, port, mails, next(pred?, ms), none(ms), stop()}.
 * next() waits for the first unread mail matching pred (by default any)
 * and marks it read.
 */
export async function startMail({ port = 0 } = {}) {
  const mails = [];
  const waiters = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, session, callback) {
      const chunks = [];
      stream.on('data', (c) => chunks.push(c));
      stream.on('end', async () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        try {
          const parsed = await simpleParser(raw);
          const to = session.envelope.rcptTo.map((r) => r.address).join(',');
          mails.push({ ...digest(parsed, raw, to), read: false });
          for (const w of [...waiters]) w();
          callback();
        } catch (e) {
          callback(e);
        }
      });
    },
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const bound = server.server.address().port;
  return {
    port: bound,
    url: `smtp://127.0.0.1:${bound}`,
    mails,
    next(pred = () => true, ms = 15000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = mails.find((x) => !x.read && pred(x));
          if (!m) return false;
          m.read = true;
          done();
          resolve(m);
          return true;
        };
        const t = setTimeout(() => {
          done();
          reject(new Error(`no mail within ${ms} ms; got: ${JSON.stringify(mails.map((m) => [m.to, m.subject]))}`));
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
    /** asserts that no unread mail (matching pred) arrives within ms */
    async none(pred = () => true, ms = 1500) {
      await new Promise((r) => setTimeout(r, ms));
      const m = mails.filter((x) => !x.read && pred(x));
      assert.equal(m.length, 0, `unexpected mail: ${JSON.stringify(m.map((x) => [x.to, x.subject]))}`);
    },
    stop() {
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Asserts both parts of a multipart/alternative mail carry link and code. */
export function assertBothParts(m) {
  assert.equal(m.contentType, 'multipart/alternative', `not multipart/alternative: ${m.contentType}`);
  assert.ok(m.text.length > 0, 'no text/plain part');
  assert.match(m.html, /<html>/, 'no text/html part');
  if (m.link) assert.ok(m.html.includes(m.link.replace(/&/g, '&amp;')), `the HTML part lacks the link ${m.link}`);
  if (m.code) assert.ok(m.html.includes(`<b>${m.code}</b>`), 'the HTML part lacks the code');
}
