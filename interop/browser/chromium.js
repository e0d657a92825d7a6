// The Chromium launch and the JSON-line plumbing that run.js, hub.js and h2.js
// share: Debian's headless Chromium (never a downloaded one) driven through
// playwright-core, one JSON object per line on stdout.
'use strict';

const crypto = require('node:crypto');
const fs = require('node:fs');
const { chromium } = require('playwright-core');

/** The Chromium binary: $SWITCHBOARD_CHROMIUM, else Debian's. */
const CHROMIUM = process.env.SWITCHBOARD_CHROMIUM || '/usr/bin/chromium';
// Without the background-networking flags Chromium keeps trying to reach Google's
// hosts, which this sandbox refuses.
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

/** Throws, saying how to install it, when the Chromium binary is missing. */
function requireChromium() {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} not found: run scripts/install-deps.sh (as root)`);
  }
}

/** Writes one JSON object as a line on stdout. */
function writeLine(object) {
  process.stdout.write(JSON.stringify(object) + '\n');
}

// Chromium trusts the leaf by its SPKI hash (--ignore-certificate-errors-spki-list),
// which needs no NSS database.
function spkiHash(chainPem) {
  const leaf = chainPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/)[0];
  const der = new crypto.X509Certificate(leaf).publicKey.export({ type: 'spki', format: 'der' });
  return crypto.createHash('sha256').update(der).digest('base64');
}

/**
 * Launches headless Chromium, trusting the certificate chain in the file
 * `trustCert` (leaf first) when given, and arms a timer that after
 * `timeoutSeconds` prints a failed `done` line, closes the browser and exits 2.
 * Returns `{ browser, timer }`; clear the timer once the run is over.
 */
async function launchWithTimeout({ trustCert, timeoutSeconds }) {
  requireChromium();
  const args = [...CHROMIUM_ARGS];
  if (trustCert) {
    args.push(`--ignore-certificate-errors-spki-list=${spkiHash(fs.readFileSync(trustCert, 'utf8'))}`);
  }
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args });
  const timer = setTimeout(() => {
    writeLine({ event: 'done', ok: false, error: `timed out after ${timeoutSeconds}s` });
    browser.close().finally(() => process.exit(2));
  }, Number(timeoutSeconds) * 1000);
  return { browser, timer };
}

/** Runs `main`; on a throw prints a failed `done` line with the stack and exits 2. */
function runMain(main) {
  main().catch((err) => {
    writeLine({ event: 'done', ok: false, error: String(err && err.stack ? err.stack : err) });
    process.exit(2);
  });
}

module.exports = { CHROMIUM, CHROMIUM_ARGS, chromium, requireChromium, writeLine, launchWithTimeout, runMain };
