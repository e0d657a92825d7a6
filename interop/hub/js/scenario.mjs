#!/usr/bin/env node
// centrifuge-js (npm `centrifuge`, pinned in interop/package.json) driven against a
// Centrifugo-protocol hub. Prints one JSON event per line on stdout (see
// interop/hub/README.md for the events and the stdin commands); diagnostics go to stderr.
//
//   node interop/hub/js/scenario.mjs --url ws://127.0.0.1:8080/connection/websocket \
//        [--format json|protobuf] [--lifetime 120] [--min-reconnect-ms 50] [--max-reconnect-ms 300]
//
// Commands arrive on stdin, one JSON object per line, and run one after another.
// The script exits after `exit`, at the end of stdin, or after --lifetime seconds.

import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';

const require = createRequire(import.meta.url);
const WebSocket = require('ws');

function parseArgs(argv) {
  const args = {
    url: null,
    format: 'json',
    lifetime: 120,
    minReconnectMs: 50,
    maxReconnectMs: 300,
  };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) fatal(`missing value after ${flag}`);
    switch (flag) {
      case '--url': args.url = value; break;
      case '--format': args.format = value; break;
      case '--lifetime': args.lifetime = Number(value); break;
      case '--min-reconnect-ms': args.minReconnectMs = Number(value); break;
      case '--max-reconnect-ms': args.maxReconnectMs = Number(value); break;
      default: fatal(`unknown option ${flag}`);
    }
  }
  if (!args.url) fatal('--url is required');
  if (args.format !== 'json' && args.format !== 'protobuf') fatal('--format is json or protobuf');
  return args;
}

function fatal(message) {
  process.stderr.write(`scenario.mjs: ${message}\n`);
  process.exit(2);
}

function emit(event, fields = {}) {
  process.stdout.write(JSON.stringify({ event, ...fields }) + '\n');
}

const args = parseArgs(process.argv.slice(2));
const protobuf = args.format === 'protobuf';
// The protobuf build negotiates the `centrifuge-protobuf` subprotocol itself.
const sdk = protobuf ? require('centrifuge/build/protobuf') : require('centrifuge');
// The package's `exports` hide package.json; read it beside the resolved entry point.
const sdkVersion = JSON.parse(readFileSync(path.join(path.dirname(require.resolve('centrifuge')), '..', 'package.json'), 'utf8')).version;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

// Publication data is a JSON object in both formats: embedded JSON in the JSON
// protocol, its UTF-8 bytes in Protobuf.
function encodeData(value) {
  return protobuf ? encoder.encode(JSON.stringify(value)) : value;
}

function decodeData(data) {
  if (!protobuf) return { value: data, len: JSON.stringify(data).length };
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
  const text = decoder.decode(bytes);
  try {
    return { value: JSON.parse(text), len: bytes.length };
  } catch {
    return { value: text, len: bytes.length };
  }
}

// Small payloads are printed whole; big ones by their sequence number and size.
function describeData(data) {
  const { value, len } = decodeData(data);
  const out = { len };
  if (value && typeof value === 'object' && 'n' in value) out.n = value.n;
  if (len <= 256) out.data = value;
  return out;
}

function describePublication(pub) {
  const out = { offset: pub.offset ?? 0, ...describeData(pub.data) };
  if (pub.info) out.client = pub.info.client;
  return out;
}

function errorFields(err) {
  if (err && typeof err === 'object' && 'code' in err) return { code: err.code, message: String(err.message) };
  return { code: 0, message: String(err && err.message ? err.message : err) };
}

const client = new sdk.Centrifuge(args.url, {
  websocket: WebSocket,
  minReconnectDelay: args.minReconnectMs,
  maxReconnectDelay: args.maxReconnectMs,
  timeout: 10000,
  name: 'switchboard-interop',
});

client.on('connecting', (ctx) => emit('connecting', { code: ctx.code, reason: ctx.reason }));
client.on('connected', (ctx) => emit('connected', { client: ctx.client, transport: ctx.transport }));
client.on('disconnected', (ctx) => emit('disconnected', { code: ctx.code, reason: ctx.reason }));
client.on('error', (ctx) => emit('client_error', { type: ctx.type, ...errorFields(ctx.error) }));

const subscriptions = new Map();

function subscribe(channel) {
  if (subscriptions.has(channel)) return subscriptions.get(channel);
  const sub = client.newSubscription(channel, {
    // Join and leave pushes come only to subscriptions that ask for them.
    joinLeave: true,
    minResubscribeDelay: args.minReconnectMs,
    maxResubscribeDelay: args.maxReconnectMs,
  });
  sub.on('subscribing', (ctx) => emit('subscribing', { channel, code: ctx.code, reason: ctx.reason }));
  sub.on('subscribed', (ctx) => emit('subscribed', {
    channel,
    recoverable: ctx.recoverable,
    positioned: ctx.positioned,
    wasRecovering: ctx.wasRecovering,
    recovered: ctx.recovered,
    offset: ctx.streamPosition ? ctx.streamPosition.offset : null,
    epoch: ctx.streamPosition ? ctx.streamPosition.epoch : null,
  }));
  sub.on('unsubscribed', (ctx) => emit('unsubscribed', { channel, code: ctx.code, reason: ctx.reason }));
  sub.on('publication', (ctx) => emit('publication', { channel, ...describePublication(ctx) }));
  sub.on('join', (ctx) => emit('join', { channel, client: ctx.info.client, user: ctx.info.user }));
  sub.on('leave', (ctx) => emit('leave', { channel, client: ctx.info.client, user: ctx.info.user }));
  sub.on('error', (ctx) => emit('subscription_error', { channel, type: ctx.type, ...errorFields(ctx.error) }));
  subscriptions.set(channel, sub);
  sub.subscribe();
  return sub;
}

function payload(n, size) {
  const value = { n };
  if (size > 0) value.pad = 'x'.repeat(size);
  return value;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function run(cmd) {
  const id = cmd.id ?? null;
  const channel = cmd.channel;
  switch (cmd.cmd) {
    case 'connect':
      client.connect();
      await client.ready(10000);
      return emit('ready', { id });
    case 'subscribe':
      await subscribe(channel).ready(10000);
      return emit('subscribe_done', { id, channel });
    case 'unsubscribe': {
      const sub = subscriptions.get(channel);
      if (sub) {
        sub.unsubscribe();
        client.removeSubscription(sub);
        subscriptions.delete(channel);
      }
      return emit('unsubscribe_done', { id, channel });
    }
    case 'publish':
      await client.publish(channel, encodeData(cmd.data));
      return emit('published', { id, channel });
    case 'publish_many': {
      // Sequential: each publish waits for its reply, so data n lands at offset start+n.
      const start = cmd.start ?? 0;
      for (let n = start; n < start + cmd.count; n++) {
        await client.publish(channel, encodeData(payload(n, cmd.size ?? 0)));
        if (cmd.interval_ms) await sleep(cmd.interval_ms);
      }
      return emit('published_many', { id, channel, count: cmd.count, start });
    }
    case 'history': {
      const options = {};
      if (cmd.limit !== undefined) options.limit = cmd.limit;
      if (cmd.reverse !== undefined) options.reverse = cmd.reverse;
      if (cmd.since) options.since = { offset: cmd.since.offset, epoch: cmd.since.epoch };
      const result = await client.history(channel, options);
      return emit('history', {
        id,
        channel,
        offset: result.offset,
        epoch: result.epoch,
        publications: result.publications.map(describePublication),
      });
    }
    case 'presence': {
      const result = await client.presence(channel);
      const clients = Object.entries(result.clients).map(([key, info]) => ({ key, client: info.client, user: info.user }));
      clients.sort((a, b) => a.client.localeCompare(b.client));
      return emit('presence', { id, channel, clients });
    }
    case 'presence_stats': {
      const result = await client.presenceStats(channel);
      return emit('presence_stats', { id, channel, num_clients: result.numClients, num_users: result.numUsers });
    }
    case 'sleep':
      await sleep(cmd.ms);
      return emit('slept', { id });
    case 'disconnect':
      client.disconnect();
      return emit('disconnect_done', { id });
    default:
      throw new Error(`unknown command ${JSON.stringify(cmd.cmd)}`);
  }
}

function finish(reason) {
  emit('done', { reason });
  client.disconnect();
  // Give stdout a moment to flush, then leave even if a socket lingers.
  setTimeout(() => process.exit(0), 50).unref();
  process.stdout.write('', () => process.exit(0));
}

const lifetime = setTimeout(() => finish('lifetime'), args.lifetime * 1000);
lifetime.unref();
// Keeps the process alive while commands are awaited, up to --lifetime.
const keepAlive = setInterval(() => {}, 1 << 30);

emit('start', { sdk: 'centrifuge-js', version: sdkVersion, format: args.format });

const input = readline.createInterface({ input: process.stdin });
const queue = [];
let running = false;
let ended = false;

async function drain() {
  if (running) return;
  running = true;
  while (queue.length > 0) {
    const line = queue.shift();
    let cmd;
    try {
      cmd = JSON.parse(line);
    } catch (err) {
      emit('command_error', { command: line, code: 0, message: `not JSON: ${err.message}` });
      continue;
    }
    if (cmd.cmd === 'exit') {
      clearInterval(keepAlive);
      return finish('exit');
    }
    try {
      await run(cmd);
    } catch (err) {
      emit('command_error', { id: cmd.id ?? null, command: cmd.cmd, ...errorFields(err) });
    }
  }
  running = false;
  if (ended) {
    clearInterval(keepAlive);
    finish('stdin closed');
  }
}

input.on('line', (line) => {
  if (line.trim() === '') return;
  queue.push(line);
  drain();
});
input.on('close', () => {
  ended = true;
  if (!running) drain();
});
