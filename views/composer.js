/**
 * composer.js — writing: a message shows at once as pending, is confirmed by its ack (or by its
 * chat:message, matched by clientId), and can be retried when sending failed; typing is announced
 * at most every few seconds.
 */
import { el } from './dom.js';
import { ui, app, showError } from './chat-state.js';
import { addressOf } from './conversation-names.js';
import { isNearBottom, scrollToBottom, scheduleMarkRead } from './conversation.js';
import { buildMessage, insertMessage } from './messages.js';
import { renderReceipts } from './receipts.js';

const MAX_BODY = 4000;

const TYPING_THROTTLE_MS = 2000;

function newClientId() {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return 'c-' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

async function sendMessage(body, clientId, pendingEl) {
  const cur = app.current;
  const client = app.client;
  if (!cur || !client) return;
  pendingEl.classList.remove('failed');
  pendingEl.querySelector('.time').textContent = 'sending…';
  pendingEl.querySelector('.retry')?.remove();
  const ack = await client.send({ ...addressOf(cur.conv), body, clientId });
  if (app.current !== cur) return;
  if (ack.ok && ack.message) {
    const stick = isNearBottom();
    insertMessage(ack.message);
    if (cur.pending.has(clientId)) {
      // The server answered without our clientId: drop the placeholder.
      cur.pending.get(clientId).remove();
      cur.pending.delete(clientId);
    }
    renderReceipts();
    if (stick) scrollToBottom();
    scheduleMarkRead();
    return;
  }
  if (ack.ok) {
    // Accepted; the chat:message event will replace the placeholder.
    return;
  }
  if (!cur.pending.has(clientId)) return; // confirmed meanwhile through chat:message
  pendingEl.classList.add('failed');
  const reason = ack.error?.message ?? 'Not sent.';
  pendingEl.querySelector('.time').textContent = `not sent: ${reason}`;
  const retry = el('button', 'retry', 'Retry');
  retry.type = 'button';
  retry.addEventListener('click', () => sendMessage(body, clientId, pendingEl));
  pendingEl.querySelector('.meta').append(' ', retry);
  showError(ui.chatError, `Message not sent: ${reason}`);
}

export function onComposerSubmit(event) {
  event.preventDefault();
  const cur = app.current;
  if (!cur) return;
  const body = ui.composer.value;
  if (body.trim() === '') return;
  if ([...body].length > MAX_BODY) {
    showError(ui.chatError, `Messages are limited to ${MAX_BODY} characters.`);
    return;
  }
  showError(ui.chatError, '');
  const clientId = newClientId();
  const pendingEl = buildMessage({ clientId, from: app.me, body }, { pending: true });
  cur.pending.set(clientId, pendingEl);
  ui.messages.append(pendingEl);
  ui.historyStatus.textContent = '';
  scrollToBottom();
  ui.composer.value = '';
  app.lastTypingSent = 0;
  sendMessage(body, clientId, pendingEl);
}

export function onComposerKeydown(event) {
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    ui.composerForm.requestSubmit();
  }
}

export function onComposerInput() {
  const cur = app.current;
  if (!cur || !app.client?.connected || ui.composer.value.trim() === '') return;
  const now = Date.now();
  if (now - app.lastTypingSent < TYPING_THROTTLE_MS) return;
  app.lastTypingSent = now;
  app.client.typing(addressOf(cur.conv));
}
