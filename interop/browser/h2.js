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

const { parseArgs } = require('node:util');
const { launchWithTimeout, runMain, writeLine } = require('./chromium');

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
  const { browser, timer } = await launchWithTimeout({ trustCert: values['trust-cert'], timeoutSeconds: values.timeout });

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
  writeLine({ event: 'done', ok: true, pageProtocol, sockets: Number(values.sockets), ...outcome });
}

runMain(main);
