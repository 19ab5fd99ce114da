/**
 * admin-accounts.js — the operator console's accounts: each with its user id and role, disable
 * or enable, change the role, reset the password (GET /control/accounts, PATCH
 * /control/accounts/:username). Every change ends the account's older tokens and sockets. The
 * bootstrap admin and the signed-in operator's own account cannot be disabled or demoted: their
 * controls are not offered, and the server refuses them anyway.
 */
import { el } from './dom.js';
import { api, busy, nextLink, showFailure } from './admin-api.js';

const $ = (selector) => document.querySelector(selector);
const ROLES = ['user', 'service', 'admin'];

export function accountsPanel() {
  const ui = { list: $('#accounts-list'), refresh: $('#accounts-refresh'), more: $('#accounts-more'), status: $('#accounts-status') };
  let me = null;
  let next = null;

  async function change(username, attributes, button) {
    await busy(button, async () => {
      const res = await api('PATCH', `/control/accounts/${encodeURIComponent(username)}`, { body: { data: { type: 'accounts', attributes } } });
      if (!res.ok) {
        showFailure(ui.status, 'Account', res.error, res.status);
        return;
      }
      ui.status.textContent = `${username}: changed; its older tokens no longer work.`;
      const item = ui.list.querySelector(`li[data-username="${CSS.escape(username)}"]`);
      item?.replaceWith(accountItem(res.json.data));
    });
  }

  function accountItem(account) {
    const a = account.attributes ?? {};
    const username = String(account.id);
    const protectedAccount = a.bootstrap || a.userId === me;
    const li = el('li', a.disabled ? 'account disabled' : 'account');
    li.dataset.username = username;
    li.dataset.role = String(a.role);
    li.dataset.disabled = String(Boolean(a.disabled));
    const name = el('span', 'user-id', a.userId);
    const badges = el('span', 'account-badges', [a.role, a.disabled ? 'disabled' : '', a.bootstrap ? 'bootstrap admin' : '', a.userId === me ? 'you' : ''].filter(Boolean).join(' · '));

    const role = el('select', 'account-role');
    role.setAttribute('aria-label', `Role of ${a.userId}`);
    for (const value of ROLES) {
      const option = el('option', '', value);
      option.value = value;
      option.selected = value === a.role;
      role.append(option);
    }
    role.disabled = protectedAccount;
    role.addEventListener('change', () => change(username, { role: role.value }, role));

    const toggle = el('button', `btn btn-small ${a.disabled ? '' : 'btn-danger'} account-toggle`, a.disabled ? 'Enable' : 'Disable');
    toggle.type = 'button';
    toggle.hidden = protectedAccount;
    toggle.setAttribute('aria-label', `${a.disabled ? 'Enable' : 'Disable'} ${a.userId}`);
    toggle.addEventListener('click', () => change(username, { disabled: !a.disabled }, toggle));

    const reset = el('form', 'account-reset');
    const password = el('input');
    password.type = 'password';
    password.autocomplete = 'new-password';
    password.placeholder = 'new password';
    password.minLength = 8;
    password.setAttribute('aria-label', `New password for ${a.userId}`);
    const set = el('button', 'btn btn-small', 'Reset password');
    set.type = 'submit';
    reset.append(password, set);
    reset.addEventListener('submit', (event) => {
      event.preventDefault();
      change(username, { password: password.value }, set).then(() => {
        password.value = '';
      });
    });

    li.append(name, badges, role, toggle, reset);
    return li;
  }

  async function load({ append = false } = {}) {
    const res = await api('GET', append && next ? next : '/control/accounts');
    if (!res.ok) {
      showFailure(ui.status, 'Accounts', res.error, res.status);
      return;
    }
    const items = (Array.isArray(res.json?.data) ? res.json.data : []).map(accountItem);
    if (append) ui.list.append(...items);
    else ui.list.replaceChildren(...items);
    next = nextLink(res.json);
    ui.more.hidden = !next;
  }

  ui.refresh.addEventListener('click', () => busy(ui.refresh, load));
  ui.more.addEventListener('click', () => busy(ui.more, () => load({ append: true })));
  return {
    /** `userId`: the signed-in operator, whose own account is protected from themself. */
    load(userId) {
      me = userId ?? me;
      return load();
    },
  };
}
