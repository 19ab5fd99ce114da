/**
 * notifications.js — the chat page's notifications panel: the app server's notifications, newest
 * first, each as its event, channel and time, its attributes as name/value lines, and its JSON on
 * demand.
 *
 *   const panel = notificationPanel({ list: $('#notification-list'), empty: $('#no-notifications') });
 *   client.on('notification', panel.add);
 *   panel.clear();
 */
import { el, formatTime } from './dom.js';

/** Notifications kept on the page; older ones are dropped. */
const MAX_NOTIFICATIONS = 30;

export function notificationPanel({ list, empty }) {
  function add({ event, payload, meta }) {
    const li = el('li', 'notification');
    li.dataset.event = event;
    if (meta?.id !== undefined) li.dataset.id = String(meta.id);
    const head = el('p', 'notification-head');
    head.append(el('span', 'event', event));
    const origin = payload?.origin ?? meta?.origin;
    if (origin) head.append(' ', el('span', 'origin', `#${origin}`));
    const when = meta?.time ?? payload?.['date-time'];
    if (when) {
      const time = el('time', 'time', formatTime(when));
      time.dateTime = when;
      head.append(' ', time);
    }
    let text;
    try { text = JSON.stringify(payload, null, 2); } catch { text = String(payload); }
    // the attributes as name: value lines (what Chatty added is in the head); the JSON on demand
    const fields = el('dl', 'attributes');
    for (const [name, value] of Object.entries(payload && typeof payload === 'object' ? payload : {})) {
      if (name === 'origin' || name === 'date-time') continue;
      fields.append(el('dt', '', name), el('dd', '', typeof value === 'string' ? value : compactJson(value)));
    }
    const raw = el('details', 'raw');
    raw.append(el('summary', '', 'JSON'), el('pre', 'payload', text));
    li.append(head);
    if (fields.childElementCount > 0) li.append(fields);
    li.append(raw);
    list.prepend(li);
    while (list.children.length > MAX_NOTIFICATIONS) list.lastElementChild.remove();
    empty.hidden = true;
  }

  function clear() {
    list.replaceChildren();
    empty.hidden = false;
  }

  return { add, clear };
}

/** A value on one line, cut short: the full JSON is in the notification's details. */
function compactJson(value) {
  let text;
  try { text = JSON.stringify(value); } catch { text = String(value); }
  return text === undefined ? String(value) : text.length > 200 ? `${text.slice(0, 199)}…` : text;
}
