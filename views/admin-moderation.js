/**
 * admin-moderation.js — the operator console's moderation: read any conversation (a channel or a
 * dm:<a>:<b>), newest page first with "Older" for more, delete a message (its members see it
 * removed at once, and in history and replay), and export the whole conversation as JSON.
 * GET/DELETE /control/conversations/:channel/messages, GET .../export.
 */
import { el, formatTime } from './dom.js';
import { api, busy, showFailure } from './admin-api.js';

const $ = (selector) => document.querySelector(selector);
const PAGE = 50;

export function moderationPanel() {
  const ui = {
    form: $('#moderation-form'),
    channel: $('#moderation-channel'),
    load: $('#moderation-load'),
    status: $('#moderation-status'),
    list: $('#moderation-list'),
    older: $('#moderation-older'),
    exportLink: $('#moderation-export'),
  };
  let channel = null;
  let oldest = null;

  const path = (name) => `/control/conversations/${encodeURIComponent(name)}`;

  function messageItem(resource) {
    const m = resource.attributes ?? {};
    const li = el('li', m.deletedAt ? 'message deleted' : 'message');
    li.dataset.id = String(resource.id);
    const time = el('time', 'time', formatTime(m.sentAt));
    time.dateTime = m.sentAt ?? '';
    const head = el('p', 'meta');
    head.append(el('span', 'from', m.from ?? 'system'), ' ', time, ' ', el('span', 'feed-id', `#${resource.id}`));
    li.append(head, el('p', 'body', m.deletedAt ? `removed ${formatTime(m.deletedAt)}` : m.body));
    if (!m.deletedAt) {
      const remove = el('button', 'btn btn-small btn-danger delete', 'Delete');
      remove.type = 'button';
      remove.setAttribute('aria-label', `Delete message ${resource.id} from ${m.from ?? 'system'}`);
      remove.addEventListener('click', () =>
        busy(remove, async () => {
          const res = await api('DELETE', `${path(channel)}/messages/${encodeURIComponent(resource.id)}`);
          if (!res.ok) return showFailure(ui.status, 'Delete', res.error, res.status);
          li.replaceWith(messageItem(res.json.data));
          ui.status.textContent = `Message #${resource.id} removed: its members see it removed.`;
        }),
      );
      li.append(remove);
    }
    return li;
  }

  async function load({ older = false } = {}) {
    const query = new URLSearchParams({ limit: String(PAGE) });
    if (older && oldest) query.set('before', oldest);
    const res = await api('GET', `${path(channel)}/messages?${query}`);
    if (!res.ok) {
      showFailure(ui.status, 'Conversation', res.error, res.status);
      return;
    }
    const messages = Array.isArray(res.json?.data) ? res.json.data : [];
    const items = messages.map(messageItem);
    if (older) ui.list.prepend(...items);
    else ui.list.replaceChildren(...items);
    if (messages.length > 0) oldest = messages[0].id;
    ui.older.hidden = messages.length < PAGE;
    delete ui.status.dataset.status;
    ui.status.textContent = ui.list.children.length === 0 ? 'No messages.' : `${ui.list.children.length} message${ui.list.children.length === 1 ? '' : 's'} of #${channel}`;
    ui.exportLink.href = `${path(channel)}/export`;
    ui.exportLink.hidden = false;
  }

  ui.form.addEventListener('submit', (event) => {
    event.preventDefault();
    channel = ui.channel.value.trim();
    oldest = null;
    if (channel) busy(ui.load, () => load());
  });
  ui.older.addEventListener('click', () => busy(ui.older, () => load({ older: true })));
}
