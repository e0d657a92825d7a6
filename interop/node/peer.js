#!/usr/bin/env node
// Interop peer built on the Node `ws` library.
//
// Switchboard's Rust interop tests spawn this program and read the JSON lines it
// prints on stdout. The scripted exchange, the command protocol and every event
// line are specified in interop/README.md; keep this file in step with it.
//
//   node peer.js server --port 0 [options]     prints "LISTENING <port>", echoes, obeys commands
//   node peer.js client --url ws://127.0.0.1:PORT/ [options]   runs the scripted exchange
//
// Exit status (client): 0 when every step matched, 1 on a mismatch, 2 on a
// timeout or connection failure.
'use strict';

const crypto = require('node:crypto');
const { parseArgs } = require('node:util');
const { WebSocket, WebSocketServer } = require('ws');

// ------------------------------------------------------------------ shared data

const TEXT_UNIT = Buffer.from('ab\u2713\u{1F389}cdefghi', 'utf8'); // 16 bytes: a b ✓ 🎉 c..i

/** Byte i = (i*31 + 7) & 0xff. */
function binaryPattern(length) {
  const out = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) out[i] = (i * 31 + 7) & 0xff;
  return out;
}

/** TEXT_UNIT repeated, as UTF-8 bytes; `length` must be a multiple of 16. */
function textPattern(length) {
  if (length % 16 !== 0) throw new Error(`text length ${length} is not a multiple of 16 bytes`);
  return Buffer.alloc(length, TEXT_UNIT);
}

function range(from, to) {
  return Buffer.from(Array.from({ length: to - from }, (_, i) => from + i));
}

/** The scripted exchange, in order (README "Scripted exchange"). */
function scriptSteps(withPing) {
  const fragmentedText = Buffer.from('fragmented text \u2713 message \u{1F389}', 'utf8');
  const steps = [
    { kind: 'message', binary: false, data: Buffer.from('hello') },
    { kind: 'message', binary: false, data: Buffer.from('h\u00e9llo w\u00f6rld \u2713 \u{1F389}') },
    { kind: 'message', binary: true, data: range(0, 256) },
    { kind: 'message', binary: true, data: binaryPattern(4 * 1024 * 1024) },
    { kind: 'message', binary: false, data: textPattern(2 * 1024 * 1024) },
    // Node splits the UTF-8 bytes, so fragment boundaries fall inside "✓" (bytes 16..19)
    // and "🎉" (bytes 28..32): legal, since only the whole message must be valid UTF-8.
    {
      kind: 'fragments',
      binary: false,
      data: [fragmentedText.subarray(0, 17), fragmentedText.subarray(17, 30), fragmentedText.subarray(30)],
    },
    { kind: 'fragments', binary: true, data: [range(0, 100), range(100, 200), range(200, 256)] },
  ];
  if (withPing) steps.push({ kind: 'ping', data: 'ping-1' });
  return steps;
}

// ----------------------------------------------------------------------- events

function emit(event, fields = {}) {
  process.stdout.write(JSON.stringify({ event, ...fields }) + '\n');
}

/** Fields of a message event: type, byte length, sha256, and short text verbatim. */
function describe(data, isBinary) {
  const fields = { type: isBinary ? 'binary' : 'text', len: data.length };
  if (!isBinary && data.length <= 1024) fields.text = data.toString('utf8');
  fields.sha256 = crypto.createHash('sha256').update(data).digest('hex');
  return fields;
}

/** Records the first close frame this side asks ws to send (ws echoes through ws.close too). */
function trackClose(ws) {
  const state = { initiator: 'remote', sentCode: null, sentReason: null };
  const original = ws.close.bind(ws);
  ws.close = (code, reason) => {
    if (state.sentCode === null && ws.readyState === WebSocket.OPEN) {
      state.sentCode = code === undefined ? null : code;
      state.sentReason = reason === undefined ? null : String(reason);
    }
    return original(code, reason);
  };
  return state;
}

function closeFields(state, code, reason) {
  // ws reports 1006 when no close frame arrived and 1005 when one arrived without a code.
  return {
    code,
    reason: reason.toString('utf8'),
    sent_code: state.sentCode,
    sent_reason: state.sentReason,
    initiator: state.initiator,
  };
}

function sendAsync(ws, data, options) {
  return new Promise((resolve, reject) => ws.send(data, options, (err) => (err ? reject(err) : resolve())));
}

/** Sends all fragments in one synchronous run, so no other message can slip between them. */
function sendFragments(ws, chunks, binary) {
  const sent = chunks.map(
    (chunk, i) =>
      new Promise((resolve, reject) =>
        ws.send(chunk, { binary, fin: i === chunks.length - 1 }, (err) => (err ? reject(err) : resolve())),
      ),
  );
  return Promise.all(sent);
}

// --------------------------------------------------------------------- commands

/** Obeys a "__" command; returns false when the text is not a command (echo it). */
async function runCommand(ws, text, state) {
  const [name, ...rest] = text.split(' ');
  if (name === '__close' && rest.length >= 1) {
    const code = Number(rest[0]);
    const reason = rest.slice(1).join(' ');
    state.initiator = 'local';
    emit('closing', { code, reason });
    ws.close(code, reason);
  } else if (name === '__ping') {
    const data = text.length > '__ping'.length ? text.slice('__ping '.length) : '';
    ws.ping(data);
    emit('ping_sent', { data });
  } else if ((name === '__send' || name === '__fragment') && rest.length >= 2) {
    const binary = rest[0] !== 'text';
    const length = Number(rest[1]);
    const payload = binary ? binaryPattern(length) : textPattern(length);
    if (name === '__send') {
      await sendAsync(ws, payload, { binary });
      emit('sent', { fragments: 1, ...describe(payload, binary) });
    } else {
      const count = Math.max(1, Number(rest[2] || 3));
      const step = Math.max(1, Math.ceil(payload.length / count));
      const chunks = [];
      for (let i = 0; i < payload.length; i += step) chunks.push(payload.subarray(i, i + step));
      if (chunks.length === 0) chunks.push(payload);
      await sendFragments(ws, chunks, binary);
      emit('sent', { fragments: chunks.length, ...describe(payload, binary) });
    }
  } else {
    return false;
  }
  return true;
}

/** Echoes every message and obeys commands until the connection closes. */
function echoAndObey(ws, state) {
  ws.on('message', (data, isBinary) => {
    emit('message', describe(data, isBinary));
    const text = isBinary ? null : data.toString('utf8');
    (async () => {
      if (text !== null && text.startsWith('__') && (await runCommand(ws, text, state))) return;
      if (ws.readyState === WebSocket.OPEN) await sendAsync(ws, data, { binary: isBinary });
    })().catch((err) => emit('error', { error: String(err) }));
  });
}

function reportControlFrames(ws) {
  ws.on('ping', (data) => emit('ping', { data: data.toString('utf8') }));
  ws.on('pong', (data) => emit('pong', { data: data.toString('utf8') }));
}

// ----------------------------------------------------------------------- deflate

function deflateOptions(args, role) {
  if (!args.deflate) return false;
  const options = {
    serverNoContextTakeover: args['server-no-context-takeover'],
    clientNoContextTakeover: args['client-no-context-takeover'],
    threshold: 0, // compress every message, so tiny ones exercise the codec too
  };
  if (args['server-max-window-bits'] !== undefined) {
    options.serverMaxWindowBits = Number(args['server-max-window-bits']);
  }
  const cmwb = args['client-max-window-bits'];
  if (cmwb === 'offer') options.clientMaxWindowBits = true;
  else if (cmwb !== undefined) options.clientMaxWindowBits = Number(cmwb);
  else if (role === 'client') options.clientMaxWindowBits = true;
  return options;
}

// ------------------------------------------------------------------------ server

function runServer(args) {
  const subprotocols = args.subprotocol || [];
  const wss = new WebSocketServer({
    host: args.host,
    port: Number(args.port),
    perMessageDeflate: deflateOptions(args, 'server'),
    maxPayload: Number(args['max-size']),
    handleProtocols: (offered) => subprotocols.find((p) => offered.has(p)) || false,
  });
  let connections = 0;
  const lifetime = setTimeout(() => {
    emit('error', { error: `lifetime of ${args.lifetime}s elapsed; exiting` });
    process.exit(0);
  }, Number(args.lifetime) * 1000);
  lifetime.unref();

  wss.on('headers', (headers, req) => {
    const line = headers.find((h) => h.toLowerCase().startsWith('sec-websocket-extensions:'));
    req.negotiatedExtensions = line ? line.slice(line.indexOf(':') + 1).trim() : '';
  });
  wss.on('listening', () => process.stdout.write(`LISTENING ${wss.address().port}\n`));
  wss.on('connection', (ws, req) => {
    connections += 1;
    const state = trackClose(ws);
    emit('open', {
      conn: connections,
      path: req.url,
      extensions: req.negotiatedExtensions || '',
      subprotocol: ws.protocol || null,
    });
    reportControlFrames(ws);
    echoAndObey(ws, state);
    ws.on('error', (err) => emit('error', { error: String(err) }));
    ws.on('close', (code, reason) => {
      emit('close', closeFields(state, code, reason));
      if (args.once) wss.close(() => process.exit(0));
    });
  });
}

// ------------------------------------------------------------------------ client

async function runScript(ws, args, errors, inbox) {
  const steps = scriptSteps(args.script === 'full');
  for (let index = 1; index <= steps.length; index++) {
    const step = steps[index - 1];
    if (step.kind === 'ping') {
      const pong = new Promise((resolve) => ws.once('pong', resolve));
      ws.ping(step.data);
      emit('ping_sent', { step: index, data: step.data });
      const data = await pong;
      emit('pong', { step: index, data: data.toString('utf8') });
      if (data.toString('utf8') !== step.data) errors.push(`step ${index}: pong payload differs`);
      continue;
    }
    let sent;
    if (step.kind === 'fragments') {
      sent = Buffer.concat(step.data);
      await sendFragments(ws, step.data, step.binary);
      emit('sent', { step: index, fragments: step.data.length, ...describe(sent, step.binary) });
    } else {
      sent = step.data;
      await sendAsync(ws, sent, { binary: step.binary });
      emit('sent', { step: index, fragments: 1, ...describe(sent, step.binary) });
    }
    const [echo, isBinary] = await inbox.next();
    emit('message', { step: index, ...describe(echo, isBinary) });
    if (isBinary !== step.binary || !echo.equals(sent)) {
      errors.push(`step ${index}: echo differs from what was sent`);
      emit('mismatch', { step: index, expected: describe(sent, step.binary), got: describe(echo, isBinary) });
    }
  }
}

/** Queue of received messages for the scripted exchange (rejects once the connection closes). */
function messageInbox(ws) {
  const queue = [];
  const waiters = [];
  let closed = null;
  ws.on('message', (data, isBinary) => {
    if (waiters.length) waiters.shift().resolve([data, isBinary]);
    else queue.push([data, isBinary]);
  });
  ws.on('close', (code) => {
    closed = new Error(`connection closed (code ${code}) while waiting for an echo`);
    while (waiters.length) waiters.shift().reject(closed);
  });
  return {
    next() {
      if (queue.length) return Promise.resolve(queue.shift());
      if (closed) return Promise.reject(closed);
      return new Promise((resolve, reject) => waiters.push({ resolve, reject }));
    },
  };
}

function runClient(args) {
  const errors = [];
  const timer = setTimeout(() => {
    emit('done', { ok: false, errors: [`timed out after ${args.timeout}s`] });
    process.exit(2);
  }, Number(args.timeout) * 1000);

  const ws = new WebSocket(args.url, args.subprotocol || [], {
    perMessageDeflate: deflateOptions(args, 'client'),
    maxPayload: Number(args['max-size']),
    handshakeTimeout: 10000,
  });
  const state = trackClose(ws);
  let extensions = '';
  ws.on('upgrade', (res) => {
    extensions = res.headers['sec-websocket-extensions'] || '';
  });
  ws.on('error', (err) => {
    errors.push(String(err));
    emit('error', { error: String(err) });
  });
  const inbox = args.script !== 'none' ? messageInbox(ws) : null;
  ws.on('close', (code, reason) => {
    emit('close', closeFields(state, code, reason));
    clearTimeout(timer);
    emit('done', { ok: errors.length === 0, errors });
    process.exit(errors.length === 0 ? 0 : state.sentCode === null && code === 1006 ? 2 : 1);
  });
  ws.on('open', async () => {
    emit('open', { extensions, subprotocol: ws.protocol || null });
    try {
      if (inbox) await runScript(ws, args, errors, inbox);
      if (args.after === 'close') {
        state.initiator = 'local';
        const code = Number(args['close-code']);
        emit('closing', { code, reason: args['close-reason'] });
        ws.close(code, args['close-reason']);
      } else {
        ws.removeAllListeners('message');
        reportControlFrames(ws);
        echoAndObey(ws, state);
      }
    } catch (err) {
      errors.push(String(err));
      emit('error', { error: String(err) });
      ws.terminate();
    }
  });
}

// --------------------------------------------------------------------------- cli

function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '0' },
      once: { type: 'boolean', default: false },
      lifetime: { type: 'string', default: '300' },
      url: { type: 'string' },
      script: { type: 'string', default: 'full' },
      after: { type: 'string', default: 'close' },
      'close-code': { type: 'string', default: '4000' },
      'close-reason': { type: 'string', default: 'bye-interop' },
      timeout: { type: 'string', default: '60' },
      deflate: { type: 'boolean', default: false },
      'server-no-context-takeover': { type: 'boolean', default: false },
      'client-no-context-takeover': { type: 'boolean', default: false },
      'server-max-window-bits': { type: 'string' },
      'client-max-window-bits': { type: 'string' },
      subprotocol: { type: 'string', multiple: true },
      'max-size': { type: 'string', default: String(64 * 1024 * 1024) },
    },
  });
  const mode = positionals[0];
  if (mode === 'server') return runServer(values);
  if (mode === 'client' && values.url) {
    if (!['full', 'no-ping', 'none'].includes(values.script)) throw new Error('--script: full | no-ping | none');
    if (!['close', 'serve'].includes(values.after)) throw new Error('--after: close | serve');
    return runClient(values);
  }
  process.stderr.write('usage: peer.js server [--port 0] ... | peer.js client --url ws://... (see interop/README.md)\n');
  process.exit(64);
}

main();
