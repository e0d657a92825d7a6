#!/usr/bin/env node
// centrifuge-js against a hub that verifies HS256 tokens: the SDK's own
// `getToken` callbacks (connection and subscription) fetch short-lived tokens
// that this script signs like an application backend would, so the refresh
// paths (`refresh`, `sub_refresh`) run for real. Prints one JSON event per
// line on stdout, then `done` with the counts, and exits.
//
//   node interop/hub/js/auth.mjs --url ws://127.0.0.1:8080/connection/websocket \
//        --secret S --user alice --channel private:room [--format json|protobuf] \
//        [--ttl 2] [--duration 7] [--first-token-expired 1]
//
// --first-token-expired 1: the first connection token is already expired, so the
// server answers error 109 and the SDK must call getToken again.

import { createRequire } from 'node:module';
import crypto from 'node:crypto';

const require = createRequire(import.meta.url);
const WebSocket = require('ws');

function fatal(message) {
  process.stderr.write(`auth.mjs: ${message}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const args = { format: 'json', ttl: 2, duration: 7, firstTokenExpired: false };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) fatal(`missing value after ${flag}`);
    switch (flag) {
      case '--url': args.url = value; break;
      case '--format': args.format = value; break;
      case '--secret': args.secret = value; break;
      case '--user': args.user = value; break;
      case '--channel': args.channel = value; break;
      case '--ttl': args.ttl = Number(value); break;
      case '--duration': args.duration = Number(value); break;
      case '--first-token-expired': args.firstTokenExpired = value === '1'; break;
      default: fatal(`unknown option ${flag}`);
    }
  }
  for (const required of ['url', 'secret', 'user', 'channel']) {
    if (!args[required]) fatal(`--${required} is required`);
  }
  return args;
}

function emit(event, fields = {}) {
  process.stdout.write(JSON.stringify({ event, ...fields }) + '\n');
}

const args = parseArgs(process.argv.slice(2));
const protobuf = args.format === 'protobuf';
const sdk = protobuf ? require('centrifuge/build/protobuf') : require('centrifuge');
const encoder = new TextEncoder();
const decoder = new TextDecoder();

// An HS256 JWT, as an application backend signs it.
function sign(claims) {
  const part = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const unsigned = `${part({ alg: 'HS256', typ: 'JWT' })}.${part(claims)}`;
  const signature = crypto.createHmac('sha256', args.secret).update(unsigned).digest('base64url');
  return `${unsigned}.${signature}`;
}

const now = () => Math.floor(Date.now() / 1000);
const counts = { connectionTokens: 0, subscriptionTokens: 0 };

async function getConnectionToken() {
  counts.connectionTokens += 1;
  const expired = args.firstTokenExpired && counts.connectionTokens === 1;
  const exp = expired ? now() - 60 : now() + args.ttl;
  emit('token', { kind: 'connection', n: counts.connectionTokens, expired });
  return sign({ sub: args.user, exp, info: { name: args.user } });
}

async function getSubscriptionToken(ctx) {
  counts.subscriptionTokens += 1;
  emit('token', { kind: 'subscription', n: counts.subscriptionTokens, channel: ctx.channel });
  return sign({ sub: args.user, channel: ctx.channel, exp: now() + args.ttl });
}

function errorFields(err) {
  if (err && typeof err === 'object' && 'code' in err) return { code: err.code, message: String(err.message) };
  return { code: 0, message: String(err && err.message ? err.message : err) };
}

const client = new sdk.Centrifuge(args.url, {
  websocket: WebSocket,
  getToken: getConnectionToken,
  minReconnectDelay: 50,
  maxReconnectDelay: 300,
  timeout: 10000,
  name: 'switchboard-interop-auth',
});
client.on('connecting', (ctx) => emit('connecting', { code: ctx.code, reason: ctx.reason }));
client.on('connected', (ctx) => emit('connected', { client: ctx.client }));
client.on('disconnected', (ctx) => emit('disconnected', { code: ctx.code, reason: ctx.reason }));
client.on('error', (ctx) => emit('client_error', { type: ctx.type, ...errorFields(ctx.error) }));

const sub = client.newSubscription(args.channel, {
  getToken: getSubscriptionToken,
  minResubscribeDelay: 50,
  maxResubscribeDelay: 300,
});
sub.on('subscribed', (ctx) => emit('subscribed', { channel: ctx.channel }));
sub.on('unsubscribed', (ctx) => emit('unsubscribed', { code: ctx.code, reason: ctx.reason }));
sub.on('error', (ctx) => emit('subscription_error', { type: ctx.type, ...errorFields(ctx.error) }));
sub.on('publication', (ctx) => {
  const data = protobuf ? JSON.parse(decoder.decode(ctx.data)) : ctx.data;
  emit('publication', { n: data.n, user: ctx.info ? ctx.info.user : null });
});

const lifetime = setTimeout(() => fatal('lifetime exceeded'), (args.duration + 60) * 1000);

client.connect();
sub.subscribe();
await sub.ready(15000);
// Publish once a second while the tokens expire and get refreshed under us.
let published = 0;
const end = Date.now() + args.duration * 1000;
while (Date.now() < end) {
  published += 1;
  const data = { n: published };
  await sub.publish(protobuf ? encoder.encode(JSON.stringify(data)) : data);
  await new Promise((resolve) => setTimeout(resolve, 1000));
}
// Give the last publication time to come back.
await new Promise((resolve) => setTimeout(resolve, 500));
emit('done', { published, ...counts });
client.disconnect();
clearTimeout(lifetime);
process.exit(0);
