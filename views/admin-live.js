/**
 * admin-live.js — the operator console's live panels: the sockets connected on every node (user,
 * transport, address, node, since when, token expiry) with a disconnect button each
 * (GET /control/sockets, DELETE /control/sockets/:id), and the channels with their subscriber and
 * online counts, searched by the start of their name (GET /control/channels). Lists are paged
 * with "Load more"; a list that some node did not answer in time says so.
 */
import { el, formatTime } from './dom.js';
import { api, busy, nextLink, showFailure } from './admin-api.js';

const $ = (selector) => document.querySelector(selector);

/**
 * A paged list: its form's submit loads the first page of `url()` into `list`, one item per
 * resource, and "Load more" the next one.
 */
function pagedList({ form, submit, url, list, more, status, label, item, describe }) {
  let next = null;
  async function fetchPage(url, { append = false } = {}) {
    const res = await api('GET', url);
    if (!res.ok) {
      status.textContent = '';
      showFailure(status, label, res.error, res.status);
      return;
    }
    delete status.dataset.status;
    const resources = Array.isArray(res.json?.data) ? res.json.data : [];
    if (append) list.append(...resources.map(item));
    else list.replaceChildren(...resources.map(item));
    next = nextLink(res.json);
    more.hidden = !next;
    const incomplete = res.json?.meta?.complete === false ? ' (some nodes did not answer)' : '';
    status.textContent = describe(list.children.length, Boolean(next)) + incomplete;
  }
  const load = () => fetchPage(url());
  more.addEventListener('click', () => next && busy(more, () => fetchPage(next, { append: true })));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    busy(submit, load);
  });
  return { load };
}

const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;

export function socketsPanel() {
  const ui = {
    form: $('#sockets-form'),
    user: $('#sockets-user'),
    refresh: $('#sockets-refresh'),
    status: $('#sockets-status'),
    list: $('#sockets-list'),
    more: $('#sockets-more'),
  };

  function socketItem(resource) {
    const a = resource.attributes ?? {};
    const li = el('li', 'socket');
    li.dataset.socketId = String(resource.id);
    li.dataset.userId = String(a.userId ?? '');
    const since = el('time', 'since', `since ${formatTime(a.connectedAt)}`);
    since.dateTime = a.connectedAt ?? '';
    const expiry = a.tokenExpiresAt ? `token until ${formatTime(a.tokenExpiresAt)}` : 'token without expiry';
    const details = el('span', 'socket-meta', `${a.transport} · ${a.address} · node ${a.node} · ${expiry}`);
    const disconnect = el('button', 'btn btn-small btn-danger disconnect', 'Disconnect');
    disconnect.type = 'button';
    disconnect.setAttribute('aria-label', `Disconnect socket ${resource.id} of ${a.userId}`);
    disconnect.addEventListener('click', () =>
      busy(disconnect, async () => {
        const res = await api('DELETE', `/control/sockets/${encodeURIComponent(resource.id)}`);
        // gone already is as good as disconnected: the list is out of date, so read it again
        if (!res.ok && res.status !== 404) showFailure(ui.status, 'Disconnect', res.error, res.status);
        else await load();
      }),
    );
    const who = el('span', 'user-id', a.name && a.name !== a.userId ? `${a.name} (${a.userId})` : a.userId);
    li.append(who, ' ', since, el('span', 'socket-id', resource.id), details, disconnect);
    return li;
  }

  const { load } = pagedList({
    ...ui,
    submit: ui.refresh,
    url: () => `/control/sockets${ui.user.value.trim() ? `?userId=${encodeURIComponent(ui.user.value.trim())}` : ''}`,
    label: 'Sockets',
    item: socketItem,
    describe: (n, more) => (n === 0 ? 'No socket is connected.' : `${plural(n, 'socket')}${more ? ' (more available)' : ''}`),
  });
  return { load };
}

export function channelsPanel({ onParticipants }) {
  const ui = {
    form: $('#channels-form'),
    prefix: $('#channels-prefix'),
    search: $('#channels-search'),
    status: $('#channels-status'),
    list: $('#channels-list'),
    more: $('#channels-more'),
  };

  function channelItem(resource) {
    const a = resource.attributes ?? {};
    const li = el('li', 'channel');
    li.dataset.channel = String(resource.id);
    const who = el('button', 'btn btn-small', 'Participants');
    who.type = 'button';
    who.setAttribute('aria-label', `Participants of ${resource.id}`);
    who.addEventListener('click', () => onParticipants(String(resource.id)));
    li.append(
      el('span', 'channel-name', `#${resource.id}`),
      ...(a.label ? [el('span', 'channel-label', a.label)] : []),
      el('span', 'subscribers', plural(Number(a.subscribers ?? 0), 'subscriber')),
      el('span', 'online', `${Number(a.online ?? 0)} online`),
      who,
    );
    return li;
  }

  return pagedList({
    ...ui,
    submit: ui.search,
    url: () => `/control/channels${ui.prefix.value.trim() ? `?prefix=${encodeURIComponent(ui.prefix.value.trim())}` : ''}`,
    label: 'Channels',
    item: channelItem,
    describe: (n, more) => (n === 0 ? 'No channel has subscribers.' : `${plural(n, 'channel')}${more ? ' (more available)' : ''}`),
  });
}
