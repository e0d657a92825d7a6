// The hub demo: a chat on one hub channel through centrifuge-js (the global
// `Centrifuge` from /assets/centrifuge.js). It shows the connection state,
// the channel's history on load, who is here (presence with join/leave),
// and a notice after every resubscribe: "recovered N missed messages" or
// "could not recover: history reloaded".
//
// Query parameters: ?channel=NAME (default chat), ?name=LABEL (shown with
// your messages; default a random guest name).
'use strict';

(() => {
  const HISTORY_LIMIT = 100;
  const params = new URLSearchParams(location.search);
  const channel = params.get('channel') || 'chat';
  const name = params.get('name') || `guest-${Math.random().toString(36).slice(2, 6)}`;
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const url = `${scheme}://${location.host}/connection/websocket`;

  const $ = (id) => document.getElementById(id);
  const list = $('messages');
  const presence = $('presence');
  $('channel').textContent = channel;
  $('me').textContent = name;

  // Messages by offset: each offset shown once, in offset order, whether it
  // came live, from a recovery or from the history.
  const shown = new Map();
  let myClient = '';
  // While a recovering subscribe delivers its publications: how many were new.
  let recovering = null;

  function render(publication) {
    const offset = Number(publication.offset || 0);
    if (offset > 0 && shown.has(offset)) return;
    const data = publication.data;
    const text = data && typeof data === 'object' ? String(data.text ?? JSON.stringify(data)) : String(data);
    const item = document.createElement('li');
    item.dataset.offset = String(offset);
    const offsetCell = document.createElement('span');
    offsetCell.className = 'offset';
    offsetCell.textContent = offset > 0 ? `#${offset}` : '';
    const nameCell = document.createElement('span');
    nameCell.className = 'name';
    nameCell.textContent = data && data.name ? String(data.name) : 'chat';
    const textCell = document.createElement('span');
    textCell.className = 'text';
    textCell.textContent = text;
    item.append(offsetCell, nameCell, textCell);
    let before = null;
    if (offset > 0) {
      shown.set(offset, item);
      before = [...list.children].find((li) => Number(li.dataset.offset) > offset) || null;
    }
    list.insertBefore(item, before);
    if (recovering) recovering.count += 1;
    list.scrollTop = list.scrollHeight;
  }

  function notice(kind, text) {
    const box = $('notice');
    box.dataset.kind = kind;
    box.textContent = text;
    box.hidden = false;
  }

  function setState(state) {
    const badge = $('state');
    badge.dataset.state = state;
    badge.textContent = state;
  }

  async function loadHistory(sub) {
    const result = await sub.history({ limit: HISTORY_LIMIT, reverse: true });
    [...result.publications].reverse().forEach(render);
  }

  async function loadPresence(sub) {
    const result = await sub.presence();
    presence.replaceChildren();
    Object.values(result.clients).forEach(addMember);
  }

  function addMember(info) {
    if (presence.querySelector(`[data-client="${CSS.escape(info.client)}"]`)) return;
    const item = document.createElement('li');
    item.dataset.client = info.client;
    item.textContent = info.user || info.client.slice(0, 8);
    if (info.client === myClient) item.className = 'me';
    presence.append(item);
    $('presence-count').textContent = String(presence.children.length);
  }

  function removeMember(info) {
    const item = presence.querySelector(`[data-client="${CSS.escape(info.client)}"]`);
    if (item) item.remove();
    $('presence-count').textContent = String(presence.children.length);
  }

  const centrifuge = new Centrifuge(url, {
    name: 'switchboard-demo',
    minReconnectDelay: 200,
    maxReconnectDelay: 3000,
  });
  centrifuge.on('state', (ctx) => setState(ctx.newState));
  centrifuge.on('connected', (ctx) => {
    myClient = ctx.client;
    document.body.dataset.client = ctx.client;
  });

  const sub = centrifuge.newSubscription(channel, { recoverable: true, positioned: true, joinLeave: true });
  sub.on('publication', (ctx) => render({ offset: ctx.offset, data: ctx.data }));
  sub.on('join', (ctx) => addMember(ctx.info));
  sub.on('leave', (ctx) => removeMember(ctx.info));
  sub.on('subscribed', (ctx) => {
    if (!ctx.wasRecovering) {
      loadHistory(sub).catch((err) => notice('error', `history failed: ${err.message || err.code}`));
    } else if (ctx.recovered) {
      // The SDK delivers the recovered publications as events right after
      // this one, in the same task: count the new ones, then tell.
      const counting = { count: 0 };
      recovering = counting;
      queueMicrotask(() => {
        recovering = null;
        const missed = counting.count;
        notice('recovered', `recovered ${missed} missed message${missed === 1 ? '' : 's'}`);
      });
    } else {
      list.replaceChildren();
      shown.clear();
      notice('lost', 'could not recover: history reloaded');
      loadHistory(sub).catch((err) => notice('error', `history failed: ${err.message || err.code}`));
    }
    document.body.dataset.subscribed = String(Number(document.body.dataset.subscribed || 0) + 1);
    loadPresence(sub).catch((err) => notice('error', `presence failed: ${err.message || err.code}`));
  });
  sub.on('error', (ctx) => notice('error', `subscription error: ${ctx.error.message}`));
  sub.subscribe();
  centrifuge.connect();

  $('send').addEventListener('submit', (event) => {
    event.preventDefault();
    const input = $('text');
    const text = input.value.trim();
    if (!text) return;
    sub.publish({ text, name }).then(
      () => { input.value = ''; },
      (err) => notice('error', `not sent (${err.message || err.code}); try again when connected`),
    );
  });

  // For tests and the curious: the SDK objects.
  window.demo = { centrifuge, sub, channel, name };
})();
