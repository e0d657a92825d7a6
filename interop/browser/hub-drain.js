#!/usr/bin/env node
// The hub demo page behind a load balancer while its node drains (issue 13,
// point 3), driven by crates/cli/tests/hub_browser_drain.rs: one page in
// Debian's headless Chromium opens --base (HAProxy in front of two nodes),
// subscribes, and records every publication event the SDK delivers (an extra
// listener on the page's own subscription, so a duplicate the page would hide
// is still seen). The script prints {"event":"subscribed"} and waits for a
// "go" line on stdin (the test starts the second node and will drain the
// first); then it publishes --count messages through the server API at --base
// every --interval-ms (each with an idempotency key, retried until
// acknowledged), waits until the page shows the last one, and prints one JSON
// line with what the page shows. With --offline the page goes offline
// (DevTools network emulation) before the publishing starts and comes back
// once it is over, so it misses every message while its node drains.
//
//   node hub-drain.js --base http://127.0.0.1:PORT [--count 60] [--offline]
//                     [--interval-ms 50] [--screenshot FILE] [--timeout 90]
//
// Exit status: 0 when the run completed (assertions are the caller's), 2 on
// a timeout or a browser failure.
'use strict';

const { parseArgs } = require('node:util');
const { launchWithTimeout, runMain, writeLine } = require('./chromium');

const STEP_TIMEOUT = 30000;
const CHANNEL = 'chat';

// Everything that went wrong on the page, each tagged with whether the page
// was offline then.
function watch(page, state) {
  const problems = [];
  const add = (kind, text) => problems.push({ kind, text, offline: state.offline });
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

// The next line on stdin (or what is left at its end).
function nextLine() {
  return new Promise((resolve) => {
    let text = '';
    const onData = (chunk) => {
      text += chunk;
      const end = text.indexOf('\n');
      if (end >= 0) done(text.slice(0, end).trim());
    };
    const onEnd = () => done(text.trim());
    const done = (line) => {
      process.stdin.off('data', onData);
      process.stdin.off('end', onEnd);
      process.stdin.pause();
      resolve(line);
    };
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', onData);
    process.stdin.on('end', onEnd);
  });
}

// One publish through the server API, retried with its idempotency key until
// a node acknowledges it; returns the offset.
async function publish(base, text, key) {
  const body = JSON.stringify({ channel: CHANNEL, data: { text, name: 'api' }, idempotency_key: key });
  const started = Date.now();
  let last = '';
  while (Date.now() - started < STEP_TIMEOUT) {
    try {
      const res = await fetch(`${base}/api/publish`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
      const reply = await res.json();
      if (res.status === 200 && reply.result) return { offset: reply.result.offset, retried: last !== '' };
      last = `HTTP ${res.status} ${JSON.stringify(reply)}`;
    } catch (err) {
      last = String(err);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`publish ${text} not acknowledged within ${STEP_TIMEOUT} ms: ${last}`);
}

async function main() {
  const { values } = parseArgs({
    options: {
      base: { type: 'string' },
      count: { type: 'string', default: '60' },
      offline: { type: 'boolean', default: false },
      'interval-ms': { type: 'string', default: '50' },
      screenshot: { type: 'string' },
      timeout: { type: 'string', default: '90' },
    },
  });
  if (!values.base) throw new Error('--base http://127.0.0.1:PORT is required');
  const { browser, timer } = await launchWithTimeout({ timeoutSeconds: values.timeout });
  const context = await browser.newContext({ viewport: { width: 1000, height: 700 } });
  const page = await context.newPage();
  const state = { offline: false };
  const problems = watch(page, state);

  await page.goto(`${values.base}/?name=alice&channel=${CHANNEL}`);
  await page.waitForSelector('body[data-subscribed="1"]', { timeout: STEP_TIMEOUT });
  // Every publication event the SDK delivers, duplicates included.
  await page.evaluate(() => {
    window.delivered = [];
    window.demo.sub.on('publication', (ctx) => window.delivered.push(Number(ctx.offset)));
  });
  const first = await publish(values.base, 'before the drain', 'drain-before');
  await page.waitForFunction(() => document.querySelector('#messages li:last-child .text')?.textContent === 'before the drain', null, {
    timeout: STEP_TIMEOUT,
  });
  writeLine({ event: 'subscribed', offset: first.offset });

  if ((await nextLine()) !== 'go') throw new Error('expected "go" on stdin');
  if (values.offline) {
    state.offline = true;
    await context.setOffline(true);
    await page.waitForFunction(() => document.querySelector('#state').dataset.state !== 'connected', null, { timeout: STEP_TIMEOUT });
  }
  const count = Number(values.count);
  const published = [];
  let retried = 0;
  for (let i = 1; i <= count; i += 1) {
    const result = await publish(values.base, `during ${i}`, `drain-${i}`);
    published.push({ offset: result.offset, text: `during ${i}` });
    if (result.retried) retried += 1;
    await new Promise((r) => setTimeout(r, Number(values['interval-ms'])));
  }
  if (values.offline) await context.setOffline(false);
  const last = `during ${count}`;
  await page.waitForFunction((t) => document.querySelector('#messages li:last-child .text')?.textContent === t, last, {
    timeout: STEP_TIMEOUT,
  });
  state.offline = false;

  const result = {
    event: 'done',
    ok: true,
    first,
    published,
    retried,
    subscribedCount: await page.evaluate(() => Number(document.body.dataset.subscribed)),
    notice: await page.$eval('#notice', (e) => ({ hidden: e.hidden, kind: e.dataset.kind, text: e.textContent })),
    state: await page.$eval('#state', (e) => e.dataset.state),
    messages: await page.$$eval('#messages li', (items) =>
      items.map((li) => ({ offset: Number(li.dataset.offset), text: li.querySelector('.text').textContent })),
    ),
    delivered: await page.evaluate(() => window.delivered),
    problems,
  };
  if (values.screenshot) await page.screenshot({ path: values.screenshot, fullPage: true });
  clearTimeout(timer);
  await browser.close();
  writeLine(result);
}

runMain(main);
