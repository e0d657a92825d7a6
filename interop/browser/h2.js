#!/usr/bin/env node
// Headless Chromium (Debian's, through playwright-core) loads a page of
// `switchboard serve` over https:// (so it holds an HTTP/2 connection to
// the origin, ALPN h2), then opens N wss:// WebSockets to /echo from that
// page, sends one message on each and waits for every echo. Chromium opens
// them as RFC 8441 extended CONNECT streams when the server advertises
// SETTINGS_ENABLE_CONNECT_PROTOCOL; the Rust test checks that from the
// server's counters. Prints one JSON line:
//   {"event":"done","ok":true,"pageProtocol":"h2","echoed":N,"sockets":N}
//
//   node h2.js --base https://localhost:PORT --trust-cert chain.pem
//              [--sockets 8] [--timeout 60]
//
// Exit status: 0 when the run completed (assertions are the caller's), 2 on
// a timeout or a browser failure.
'use strict';

const crypto = require('node:crypto');
const fs = require('node:fs');
const { parseArgs } = require('node:util');
const { chromium } = require('playwright-core');

const CHROMIUM = process.env.SWITCHBOARD_CHROMIUM || '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

function spkiHash(chainPem) {
  const leaf = chainPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/)[0];
  const der = new crypto.X509Certificate(leaf).publicKey.export({ type: 'spki', format: 'der' });
  return crypto.createHash('sha256').update(der).digest('base64');
}

async function main() {
  const { values } = parseArgs({
    options: {
      base: { type: 'string' },
      'trust-cert': { type: 'string' },
      sockets: { type: 'string', default: '8' },
      timeout: { type: 'string', default: '60' },
    },
  });
  if (!values.base) throw new Error('--base https://localhost:PORT is required');
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: run scripts/install-deps.sh (as root)`);
  const args = [...CHROMIUM_ARGS];
  if (values['trust-cert']) {
    args.push(`--ignore-certificate-errors-spki-list=${spkiHash(fs.readFileSync(values['trust-cert'], 'utf8'))}`);
  }
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args });
  const timer = setTimeout(() => {
    process.stdout.write(JSON.stringify({ event: 'done', ok: false, error: `timed out after ${values.timeout}s` }) + '\n');
    browser.close().finally(() => process.exit(2));
  }, Number(values.timeout) * 1000);

  const page = await browser.newPage();
  await page.goto(`${values.base}/healthz`);
  const pageProtocol = await page.evaluate(() => performance.getEntriesByType('navigation')[0].nextHopProtocol);
  const wsBase = values.base.replace(/^https:/, 'wss:');
  const outcome = await page.evaluate(
    async ({ url, count }) => {
      const open = (index) =>
        new Promise((resolve) => {
          const ws = new WebSocket(url);
          const text = `chromium h2 #${index}`;
          ws.onopen = () => ws.send(text);
          ws.onmessage = (event) => {
            const echoed = event.data === text;
            ws.onclose = () => resolve({ echoed, code: 1000 });
            ws.close(1000, 'done');
          };
          ws.onerror = () => resolve({ echoed: false, error: true });
        });
      const results = await Promise.all(Array.from({ length: count }, (_, index) => open(index)));
      return { echoed: results.filter((r) => r.echoed).length, errors: results.filter((r) => r.error).length };
    },
    { url: `${wsBase}/echo`, count: Number(values.sockets) },
  );
  clearTimeout(timer);
  await browser.close();
  process.stdout.write(
    JSON.stringify({ event: 'done', ok: true, pageProtocol, sockets: Number(values.sockets), ...outcome }) + '\n',
  );
}

main().catch((err) => {
  process.stdout.write(JSON.stringify({ event: 'done', ok: false, error: String(err && err.stack ? err.stack : err) }) + '\n');
  process.exit(2);
});
