/**
 * presence.js — who is in the open conversation, online or not (`presence` events and
 * `presence:query`, for group and private conversations alike), and who is typing.
 */
import { el } from './dom.js';
import { personParts } from './people.js';
import { ui, app } from './chat-state.js';
import { renderConversationList } from './conversation-list.js';

const TYPING_CLEAR_MS = 3000;

export function onTyping(typing) {
  const cur = app.current;
  if (!cur || !typing || typing.channel !== cur.key || !typing.userId || typing.userId === app.me) return;
  clearTimeout(cur.typing.get(typing.userId));
  cur.typing.set(typing.userId, setTimeout(() => clearTyping(typing.userId), TYPING_CLEAR_MS));
  if (!cur.members.has(typing.userId)) {
    cur.members.add(typing.userId);
    renderPresence();
  }
  renderTyping();
}

export function clearTyping(userId) {
  const cur = app.current;
  if (!cur || !cur.typing.has(userId)) return;
  clearTimeout(cur.typing.get(userId));
  cur.typing.delete(userId);
  renderTyping();
}

export function clearTypingIndicators() {
  const cur = app.current;
  if (cur) for (const timer of cur.typing.values()) clearTimeout(timer);
  ui.typing.textContent = '';
}

function renderTyping() {
  const users = app.current ? [...app.current.typing.keys()].sort() : [];
  let text = '';
  if (users.length === 1) text = `${users[0]} is typing…`;
  else if (users.length > 1) {
    text = `${users.slice(0, -1).join(', ')} and ${users[users.length - 1]} are typing…`;
  }
  ui.typing.textContent = text;
}

export function onPresence(presence) {
  if (!presence || typeof presence.userId !== 'string') return;
  const status = presence.status === 'online' ? 'online' : 'offline';
  app.presence.set(presence.userId, status);
  const cur = app.current;
  if (cur && presence.userId !== app.me) {
    if (cur.members.has(presence.userId)) renderPresence();
    else if (status === 'online' && cur.conv.kind === 'channel') {
      // Maybe a member of this channel we have not seen yet: ask the server.
      clearTimeout(app.presenceRequery);
      app.presenceRequery = setTimeout(queryPresence, 300);
    }
  }
  renderConversationList();
}

export async function queryPresence() {
  const cur = app.current;
  const client = app.client;
  if (!cur || !client) return;
  const ack = await client.presenceQuery({ channel: cur.key });
  if (app.current !== cur || !ack.ok || !Array.isArray(ack.online)) {
    if (app.current === cur) renderPresence();
    return;
  }
  const online = new Set(ack.online);
  for (const userId of online) {
    app.presence.set(userId, 'online');
    if (userId !== app.me) cur.members.add(userId);
  }
  for (const userId of cur.members) if (!online.has(userId)) app.presence.set(userId, 'offline');
  renderPresence();
  renderConversationList();
}

export function renderPresence() {
  const cur = app.current;
  if (!cur) {
    ui.presenceList.replaceChildren();
    return;
  }
  const items = [...cur.members].filter((u) => u !== app.me).sort().map((userId) => {
    const status = app.presence.get(userId) ?? 'offline';
    const li = el('li', `presence ${status}`);
    li.dataset.presenceUser = userId;
    li.title = `${userId} is ${status}`;
    const dot = el('span', 'dot');
    dot.setAttribute('aria-hidden', 'true');
    const name = el('span', 'name');
    name.append(...personParts(userId));
    li.append(dot, name, el('span', 'sr-only', ` (${status})`));
    return li;
  });
  ui.presenceList.replaceChildren(...items);
}
