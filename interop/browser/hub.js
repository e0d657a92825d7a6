#!/usr/bin/env node
// Drives the hub demo page (served at / by `switchboard serve`) in Debian's
// headless Chromium through playwright-core: two pages (alice, bob) in two
// browser contexts chat; alice goes offline (DevTools network emulation via
// context.setOffline) while bob keeps sending; then alice comes back and
// either recovers every missed message or, past the history window, shows
// "could not recover" and reloads the history. Prints one JSON line with
// what each page shows; the Rust test asserts on it.
//
//   node hub.js --base http://127.0.0.1:PORT --missed 5 [--screenshot FILE]
//               [--trust-cert chain.pem] [--timeout 90]
//
// --trust-cert: the server's certificate chain (leaf first); Chromium trusts
// the leaf by its SPKI hash (--ignore-certificate-errors-spki-list), which
// needs no NSS database.
// Exit status: 0 when the run completed (assertions are the caller's), 2 on
// a timeout or a browser failure.
'use strict';

const { parseArgs } = require('node:util');
const { launchWithTimeout, runMain, writeLine } = require('./chromium');

const STEP_TIMEOUT = 20000;

// Everything that went wrong on a page: console errors, page errors, failed
// requests and HTTP errors, each tagged with whether the page was offline.
function watch(page, label, state) {
  const problems = [];
  const add = (kind, text) => problems.push({ page: label, kind, text, offline: state.offline });
  page.on('console', (msg) => {
    if (msg.type() === 'error') add('console', msg.text());
  });
  page.on('pageerror', (err) => add('pageerror', String(err)));
  page.on('requestfailed', (req) => add('requestfailed', `${req.url()} ${req.failure()?.errorText}`));
  page.on('response', (res) => {
    if (res.status() >= 400) add('http', `${res.status()} ${res.url()}`);
  });
  return problems;
}

async function messages(page) {
  return page.$$eval('#messages li', (items) =>
    items.map((li) => ({ offset: Number(li.dataset.offset), text: li.querySelector('.text').textContent })),
  );
}

async function send(page, text) {
  await page.fill('#text', text);
  await page.click('#send button');
  await page.waitForFunction((t) => [...document.querySelectorAll('#messages .text')].some((e) => e.textContent === t), text, {
    timeout: STEP_TIMEOUT,
  });
}

async function main() {
  const { values } = parseArgs({
    options: {
      base: { type: 'string' },
      missed: { type: 'string', default: '5' },
      screenshot: { type: 'string' },
      'trust-cert': { type: 'string' },
      timeout: { type: 'string', default: '90' },
    },
  });
  if (!values.base) throw new Error('--base http://127.0.0.1:PORT is required');
  const { browser, timer } = await launchWithTimeout({ trustCert: values['trust-cert'], timeoutSeconds: values.timeout });

  const aliceState = { offline: false };
  const aliceContext = await browser.newContext({ viewport: { width: 1000, height: 700 } });
  const bobContext = await browser.newContext({ viewport: { width: 1000, height: 700 } });
  const alice = await aliceContext.newPage();
  const bob = await bobContext.newPage();
  const problems = [...[]];
  const aliceProblems = watch(alice, 'alice', aliceState);
  const bobProblems = watch(bob, 'bob', { offline: false });

  await alice.goto(`${values.base}/?name=alice`);
  await alice.waitForSelector('body[data-subscribed="1"]', { timeout: STEP_TIMEOUT });
  await bob.goto(`${values.base}/?name=bob`);
  await bob.waitForSelector('body[data-subscribed="1"]', { timeout: STEP_TIMEOUT });
  await alice.waitForFunction(() => document.querySelectorAll('#presence li').length === 2, null, { timeout: STEP_TIMEOUT });
  const presenceBefore = await alice.$$eval('#presence li', (items) => items.length);

  await send(bob, 'hello from bob');
  await alice.waitForFunction(() => document.querySelector('#messages li:last-child .text')?.textContent === 'hello from bob', null, {
    timeout: STEP_TIMEOUT,
  });
  await send(alice, 'hi bob');

  aliceState.offline = true;
  await aliceContext.setOffline(true);
  await alice.waitForFunction(() => document.querySelector('#state').dataset.state !== 'connected', null, { timeout: STEP_TIMEOUT });
  const stateOffline = await alice.$eval('#state', (e) => e.dataset.state);
  const missed = [];
  for (let i = 1; i <= Number(values.missed); i += 1) {
    const text = `missed ${i}`;
    missed.push(text);
    await send(bob, text);
  }
  await aliceContext.setOffline(false);
  await alice.waitForSelector('body[data-subscribed="2"]', { timeout: STEP_TIMEOUT });
  await alice.waitForSelector('#notice:not([hidden])', { timeout: STEP_TIMEOUT });
  // The notice is set once the recovered (or reloaded) messages are in.
  await alice.waitForFunction((last) => document.querySelector('#messages li:last-child .text')?.textContent === last, missed[missed.length - 1], {
    timeout: STEP_TIMEOUT,
  });
  aliceState.offline = false;
  await send(bob, 'after');
  await alice.waitForFunction(() => document.querySelector('#messages li:last-child .text')?.textContent === 'after', null, {
    timeout: STEP_TIMEOUT,
  });

  const result = {
    event: 'done',
    ok: true,
    presenceBefore,
    stateOffline,
    notice: await alice.$eval('#notice', (e) => ({ kind: e.dataset.kind, text: e.textContent })),
    stateAfter: await alice.$eval('#state', (e) => e.dataset.state),
    alice: await messages(alice),
    bob: await messages(bob),
    problems: [...problems, ...aliceProblems, ...bobProblems],
  };
  if (values.screenshot) await alice.screenshot({ path: values.screenshot, fullPage: true });
  clearTimeout(timer);
  await browser.close();
  writeLine(result);
}

runMain(main);
