#!/usr/bin/env node
// Runs the interop client (page.html) inside Debian's headless Chromium through
// playwright-core, and prints the page's JSON event lines on stdout.
//
//   node run.js --url ws://127.0.0.1:PORT/ [--script no-ping|none] [--after close|serve]
//               [--close-code 4000] [--close-reason bye-interop] [--subprotocol P]... [--timeout 60]
//
// Chromium always offers "permessage-deflate; client_max_window_bits"; the open
// event reports what the server accepted (WebSocket.extensions).
// Exit status: 0 when every step matched, 1 on a mismatch, 2 on a timeout or a
// browser failure. Never downloads a browser: it drives /usr/bin/chromium
// (install it with scripts/install-deps.sh).
'use strict';

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { pathToFileURL } = require('node:url');
const { parseArgs } = require('node:util');
const { CHROMIUM, CHROMIUM_ARGS, chromium, requireChromium, writeLine } = require('./chromium');

function emit(event, fields = {}) {
  writeLine({ event, ...fields });
}

async function main() {
  const { values } = parseArgs({
    options: {
      url: { type: 'string' },
      script: { type: 'string', default: 'no-ping' },
      after: { type: 'string', default: 'close' },
      'close-code': { type: 'string', default: '4000' },
      'close-reason': { type: 'string', default: 'bye-interop' },
      subprotocol: { type: 'string', multiple: true },
      timeout: { type: 'string', default: '60' },
    },
  });
  if (!values.url) throw new Error('--url ws://127.0.0.1:PORT/ is required');
  if (values.script === 'full') values.script = 'no-ping'; // a browser cannot send pings
  requireChromium();

  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-chromium-'));
  let context;
  const timer = setTimeout(() => {
    emit('done', { ok: false, errors: [`timed out after ${values.timeout}s`] });
    // Closing the browser takes its child processes with it.
    Promise.resolve(context && context.close()).finally(() => {
      fs.rmSync(userDataDir, { recursive: true, force: true });
      process.exit(2);
    });
  }, Number(values.timeout) * 1000);

  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
    });
    const page = context.pages()[0] || (await context.newPage());
    await page.exposeFunction('sbEmit', (line) => process.stdout.write(line + '\n'));
    page.on('console', (msg) => process.stderr.write(`[page ${msg.type()}] ${msg.text()}\n`));
    page.on('pageerror', (err) => process.stderr.write(`[page error] ${err}\n`));
    await page.goto(pathToFileURL(path.join(__dirname, 'page.html')).href);
    const result = await page.evaluate(([url, options]) => window.runInterop(url, options), [
      values.url,
      {
        script: values.script,
        after: values.after,
        closeCode: Number(values['close-code']),
        closeReason: values['close-reason'],
        subprotocols: values.subprotocol || [],
      },
    ]);
    clearTimeout(timer);
    await context.close();
    fs.rmSync(userDataDir, { recursive: true, force: true });
    process.exit(result.ok ? 0 : 1);
  } catch (err) {
    clearTimeout(timer);
    emit('done', { ok: false, errors: [String(err && err.message ? err.message : err)] });
    if (context) await context.close().catch(() => {});
    fs.rmSync(userDataDir, { recursive: true, force: true });
    process.exit(2);
  }
}

main().catch((err) => {
  emit('done', { ok: false, errors: [String(err && err.message ? err.message : err)] });
  process.exit(2);
});
