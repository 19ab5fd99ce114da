/**
 * admin-keys.js — the operator console's key ring: the keys that verify tokens (ids, created,
 * expiry; never a secret, GET /control/keys) and rotation (PUT /auth/update-jwt-secret), which
 * asks for confirmation and says what its grace period means before it runs. The console's own
 * session survives a rotation it made: the server signs its cookie again with the new key.
 */
import { el, formatTime } from './dom.js';
import { api, busy, showFailure, showResult } from './admin-api.js';

const $ = (selector) => document.querySelector(selector);

/** "1 hour", "90 seconds", "2 days": a grace period as people say it. */
export function describeDuration(seconds) {
  const units = [['day', 86400], ['hour', 3600], ['minute', 60], ['second', 1]];
  for (const [unit, size] of units) {
    if (seconds >= size && seconds % size === 0) {
      const n = seconds / size;
      return `${n} ${unit}${n === 1 ? '' : 's'}`;
    }
  }
  return `${seconds} seconds`;
}

/** What a rotation with this grace does, in the words the confirmation shows. */
export function rotationConsequence(graceSeconds, now = Date.now()) {
  if (graceSeconds === 0) {
    return 'Tokens signed with the current keys stop working now: every app server and browser needs a new token, and their sockets are disconnected. This console stays signed in.';
  }
  const until = new Date(now + graceSeconds * 1000);
  return `Tokens signed with the current keys keep working for ${describeDuration(graceSeconds)} (until ${formatTime(until.toISOString())}), so app servers have time to pick up the new secret; after that they are refused and their sockets disconnected. This console stays signed in.`;
}

export function keysPanel() {
  const ui = {
    list: $('#keys-list'),
    refresh: $('#keys-refresh'),
    form: $('#rotate-form'),
    secret: $('#rotate-secret'),
    grace: $('#rotate-grace'),
    generate: $('#rotate-generate'),
    show: $('#rotate-show'),
    rotate: $('#rotate-btn'),
    confirm: $('#rotate-confirm'),
    consequence: $('#rotate-consequence'),
    confirmBtn: $('#rotate-confirm-btn'),
    cancelBtn: $('#rotate-cancel-btn'),
    result: $('#rotate-result'),
  };

  async function load() {
    const res = await api('GET', '/control/keys');
    if (!res.ok) {
      showFailure(ui.result, 'Key ring', res.error, res.status);
      return;
    }
    const keys = Array.isArray(res.json?.data) ? res.json.data : [];
    ui.list.replaceChildren(...keys.map(keyItem));
  }

  function keyItem(key) {
    const { createdAt, expiresAt, current } = key.attributes ?? {};
    const li = el('li', current ? 'key current' : 'key');
    li.dataset.keyId = String(key.id);
    li.dataset.current = String(Boolean(current));
    li.append(el('code', 'key-id', key.id), ' ', el('span', 'key-state', current ? 'signs new tokens' : `valid until ${formatTime(expiresAt)}`));
    const created = el('time', 'key-created', `created ${formatTime(createdAt)}`);
    created.dateTime = createdAt ?? '';
    li.append(' ', created);
    return li;
  }

  function graceSeconds() {
    const value = ui.grace.value.trim();
    return value === '' ? null : Number(value);
  }

  /** The first step: say what will happen, and wait for the operator to confirm. */
  function onSubmit(event) {
    event.preventDefault();
    const grace = graceSeconds();
    if (grace === null || !Number.isInteger(grace) || grace < 0) {
      showFailure(ui.result, 'Rotate secret', 'The grace period must be a whole number of seconds, 0 or more');
      return;
    }
    ui.consequence.textContent = rotationConsequence(grace);
    ui.confirm.hidden = false;
    ui.rotate.disabled = true;
    ui.confirmBtn.focus();
  }

  function closeConfirmation() {
    ui.confirm.hidden = true;
    ui.rotate.disabled = false;
  }

  async function onConfirm() {
    const body = { secret: ui.secret.value, graceSeconds: graceSeconds() };
    await busy(ui.confirmBtn, async () => {
      const res = await api('PUT', '/auth/update-jwt-secret', { body });
      closeConfirmation();
      if (showResult(ui.result, res, 'Rotate secret')) {
        ui.secret.value = '';
        await load();
      }
    });
  }

  function generateSecret() {
    const bytes = new Uint8Array(48);
    crypto.getRandomValues(bytes);
    let binary = '';
    for (const b of bytes) binary += String.fromCharCode(b);
    ui.secret.value = btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function toggleSecretVisibility() {
    const show = ui.secret.type === 'password';
    ui.secret.type = show ? 'text' : 'password';
    ui.show.textContent = show ? 'Hide' : 'Show';
    ui.show.setAttribute('aria-pressed', String(show));
  }

  ui.form.addEventListener('submit', onSubmit);
  ui.confirmBtn.addEventListener('click', onConfirm);
  ui.cancelBtn.addEventListener('click', () => {
    closeConfirmation();
    ui.rotate.focus();
  });
  ui.generate.addEventListener('click', generateSecret);
  ui.show.addEventListener('click', toggleSecretVisibility);
  ui.refresh.addEventListener('click', () => busy(ui.refresh, load));
  return { load };
}
