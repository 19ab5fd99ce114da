/**
 * admin-webhooks.js — the operator console's webhook endpoints (contract §10): create one (its
 * secret shown this once), see each one's status, last error and lag, disable or enable it, rotate
 * its secret, delete it (GET/POST /control/webhooks, PATCH/DELETE /control/webhooks/:id, POST
 * /control/webhooks/:id/rotate-secret). Deleting and rotating ask for a second click.
 */
import { el } from './dom.js';
import { api, busy, showFailure } from './admin-api.js';

const $ = (selector) => document.querySelector(selector);
const EVENT_TYPES = ['chat.message', 'chat.read', 'chat.deleted', 'presence.online', 'presence.offline', 'subscription.changed', 'notification.accepted'];

export function webhooksPanel() {
  const ui = {
    list: $('#webhooks-list'),
    refresh: $('#webhooks-refresh'),
    status: $('#webhooks-status'),
    form: $('#webhook-form'),
    url: $('#webhook-url'),
    events: $('#webhook-events'),
    channels: $('#webhook-channels'),
    create: $('#webhook-create'),
    secret: $('#webhook-secret'),
  };

  for (const type of EVENT_TYPES) {
    const label = el('label', 'check');
    const box = el('input');
    box.type = 'checkbox';
    box.value = type;
    box.checked = true;
    label.append(box, ` ${type}`);
    ui.events.append(label);
  }

  /** Shows a secret the server returns only once. */
  function showSecret(endpoint, what) {
    ui.secret.hidden = false;
    ui.secret.textContent = `${what} for ${endpoint.attributes.url}:\n${endpoint.attributes.secret}\nCopy it now: it is not shown again.`;
  }

  /** A button that acts on its second click (the first asks). */
  function confirming(label, question, action) {
    const button = el('button', 'btn btn-small', label);
    button.type = 'button';
    let armed = false;
    button.addEventListener('click', () => {
      if (!armed) {
        armed = true;
        button.textContent = question;
        button.classList.add('btn-danger');
        setTimeout(() => {
          armed = false;
          button.textContent = label;
          button.classList.remove('btn-danger');
        }, 5000);
        return;
      }
      busy(button, action);
    });
    return button;
  }

  function webhookItem(endpoint) {
    const a = endpoint.attributes ?? {};
    const id = String(endpoint.id);
    const li = el('li', `webhook ${a.status}`);
    li.dataset.id = id;
    li.dataset.status = String(a.status);
    const url = el('span', 'webhook-url', a.url);
    const status = el('span', `webhook-status status-${a.status}`, a.status);
    const what = el('span', 'webhook-events muted', `${(a.events ?? []).join(', ')}${a.channels ? ` · channels ${a.channels.join(', ')}` : ''} · lag ${a.lag}`);
    const error = el('span', 'webhook-error', a.lastError ? `Last error${a.lastErrorAt ? ` (${new Date(a.lastErrorAt).toLocaleString()})` : ''}: ${a.lastError}` : '');
    error.hidden = !a.lastError;

    const toggle = el('button', 'btn btn-small webhook-toggle', a.disabled ? 'Enable' : 'Disable');
    toggle.type = 'button';
    toggle.setAttribute('aria-label', `${a.disabled ? 'Enable' : 'Disable'} ${a.url}`);
    toggle.addEventListener('click', () =>
      busy(toggle, async () => {
        const res = await api('PATCH', `/control/webhooks/${encodeURIComponent(id)}`, { body: { data: { type: 'webhooks', attributes: { disabled: !a.disabled } } } });
        if (!res.ok) return showFailure(ui.status, 'Webhook', res.error, res.status);
        ui.status.textContent = a.disabled ? `${a.url}: enabled; it resumes with what happens from now on.` : `${a.url}: disabled; nothing is sent to it.`;
        li.replaceWith(webhookItem(res.json.data));
      }),
    );
    const rotate = confirming('Rotate secret', 'Really rotate?', async () => {
      const res = await api('POST', `/control/webhooks/${encodeURIComponent(id)}/rotate-secret`);
      if (!res.ok) return showFailure(ui.status, 'Webhook', res.error, res.status);
      showSecret(res.json.data, 'New secret (the previous one keeps signing alongside for 24 hours)');
    });
    rotate.classList.add('webhook-rotate');
    const remove = confirming('Delete', 'Really delete?', async () => {
      const res = await api('DELETE', `/control/webhooks/${encodeURIComponent(id)}`);
      if (!res.ok) return showFailure(ui.status, 'Webhook', res.error, res.status);
      ui.status.textContent = `${a.url}: deleted.`;
      li.remove();
    });
    remove.classList.add('webhook-delete');
    li.append(url, status, what, error, toggle, rotate, remove);
    return li;
  }

  async function load() {
    const res = await api('GET', '/control/webhooks');
    if (!res.ok) return showFailure(ui.status, 'Webhooks', res.error, res.status);
    const items = (Array.isArray(res.json?.data) ? res.json.data : []).map(webhookItem);
    ui.list.replaceChildren(...items);
    if (items.length === 0) ui.list.append(el('li', 'muted', 'No endpoints yet.'));
  }

  ui.form.addEventListener('submit', (event) => {
    event.preventDefault();
    busy(ui.create, async () => {
      const events = [...ui.events.querySelectorAll('input:checked')].map((box) => box.value);
      const channels = ui.channels.value.split(',').map((name) => name.trim()).filter(Boolean);
      const attributes = { url: ui.url.value.trim(), events, ...(channels.length > 0 ? { channels } : {}) };
      const res = await api('POST', '/control/webhooks', { body: { data: { type: 'webhooks', attributes } } });
      if (!res.ok) return showFailure(ui.status, 'Webhook', res.error, res.status);
      ui.status.textContent = `${attributes.url}: created.`;
      showSecret(res.json.data, 'Signing secret');
      ui.url.value = '';
      await load();
    });
  });
  ui.refresh.addEventListener('click', () => busy(ui.refresh, load));
  return { load };
}
