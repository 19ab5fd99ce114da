/**
 * admin-feed.js — the operator console's live feed: every event the server delivers, as it goes
 * out (namespace /admin, admin only), newest first, filtered by a channel or a user. Each entry
 * shows its event, how it was addressed (or the conversation and sender of a chat message), its
 * payload and its time. Kept to the last MAX_ENTRIES; "Pause" stops the list from moving.
 */
import { el, formatTime } from './dom.js';

const $ = (selector) => document.querySelector(selector);
const MAX_ENTRIES = 200;

export function feedPanel() {
  const ui = {
    form: $('#feed-form'),
    kind: $('#feed-kind'),
    name: $('#feed-name'),
    apply: $('#feed-apply'),
    pause: $('#feed-pause'),
    clear: $('#feed-clear'),
    status: $('#feed-status'),
    list: $('#feed-list'),
  };
  let socket = null;
  let paused = false;

  function watch() {
    const name = ui.name.value.trim();
    if (!name || ui.kind.value === 'all') return {};
    return ui.kind.value === 'user' ? { user: name } : { channel: name };
  }

  function describeWatch(filter) {
    if (filter.channel) return `watching #${filter.channel}`;
    if (filter.user) return `watching user ${filter.user}`;
    return 'watching every event';
  }

  function entryItem(entry) {
    const li = el('li', `feed-entry ${entry.kind === 'chat' ? 'chat' : 'notify'}`);
    li.dataset.id = String(entry.id);
    li.dataset.event = String(entry.event);
    const time = el('time', 'time', formatTime(entry.time));
    time.dateTime = entry.time ?? '';
    const head = el('p', 'feed-head');
    head.append(el('span', 'event', entry.event), ' ');
    const to = entry.kind === 'chat' ? `#${entry.channel} from ${entry.from}` : `${entry.mode}: ${(entry.targets ?? []).join(', ')}`;
    head.append(el('span', 'target', to), ' ', time, ' ', el('span', 'feed-id', `#${entry.id}`));
    const payload = entry.kind === 'chat' ? entry.body : JSON.stringify(entry.attributes ?? {});
    li.append(head, el('p', 'feed-payload', payload));
    return li;
  }

  function onEntry(entry) {
    if (paused || !entry || typeof entry !== 'object') return;
    ui.list.prepend(entryItem(entry));
    while (ui.list.children.length > MAX_ENTRIES) ui.list.lastElementChild.remove();
  }

  function start() {
    if (socket || typeof window.io !== 'function') return;
    // same origin: the login cookie authenticates the handshake
    socket = window.io('/admin', { auth: { watch: watch() }, transports: ['websocket', 'polling'] });
    socket.on('connect', () => {
      ui.status.dataset.state = 'connected';
      ui.status.textContent = describeWatch(watch());
    });
    socket.on('disconnect', () => {
      ui.status.dataset.state = 'disconnected';
      ui.status.textContent = 'disconnected; reconnecting…';
    });
    socket.on('connect_error', (error) => {
      ui.status.dataset.state = 'error';
      ui.status.textContent = `cannot connect: ${error?.message ?? 'unknown error'}`;
    });
    socket.on('feed:event', onEntry);
  }

  async function apply(event) {
    event.preventDefault();
    if (!socket) return;
    // the next reconnect asks for the same
    socket.auth = { watch: watch() };
    const answer = await socket.timeout(5000).emitWithAck('feed:watch', watch()).catch((error) => ({ ok: false, error: { message: error.message } }));
    ui.status.textContent = answer.ok ? describeWatch(answer.watch) : `not changed: ${answer.error?.message}`;
  }

  function stop() {
    socket?.close();
    socket = null;
  }

  ui.form.addEventListener('submit', apply);
  ui.kind.addEventListener('change', () => {
    ui.name.disabled = ui.kind.value === 'all';
  });
  ui.pause.addEventListener('click', () => {
    paused = !paused;
    ui.pause.textContent = paused ? 'Resume' : 'Pause';
    ui.pause.setAttribute('aria-pressed', String(paused));
  });
  ui.clear.addEventListener('click', () => ui.list.replaceChildren());
  return { start, stop };
}
