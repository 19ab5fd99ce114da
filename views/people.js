/**
 * people.js — names, avatars and channel labels for the chat page (contract §11), instead of
 * ids. Asking for a name (nameOf, labelOf) answers from the cache, or with the id while it fetches
 * what it lacks (profiles:get, labels:get, 100 ids a request) and tells the listeners when they
 * arrive; a `profile` event updates the cache. Everything is shown as text; avatars are loaded
 * with referrerpolicy="no-referrer", and dropped when they fail to load.
 */
import { app } from './chat-state.js';
import { el } from './dom.js';

const BATCH = 100;
const profiles = new Map();
const labels = new Map();
const wantedProfiles = new Set();
const wantedLabels = new Set();
const listeners = [];
let timer = null;

/** Called (with no argument) whenever names, avatars or labels changed. */
export function onPeopleChange(listener) {
  listeners.push(listener);
}

/** A user's name: their profile's, or their id until it is known. */
export function nameOf(userId) {
  if (!profiles.has(userId)) want(wantedProfiles, userId);
  return profiles.get(userId)?.name ?? userId;
}

export function avatarOf(userId) {
  return profiles.get(userId)?.avatar ?? null;
}

/** A channel's label, or null (none, or not known yet). */
export function labelOf(channel) {
  if (!labels.has(channel)) want(wantedLabels, channel);
  return labels.get(channel) ?? null;
}

/** A `profile` event: the cache follows, and so does the page. */
export function profileChanged(profile) {
  if (!profile || typeof profile.userId !== 'string' || typeof profile.name !== 'string') return;
  profiles.set(profile.userId, { name: profile.name, avatar: typeof profile.avatar === 'string' ? profile.avatar : null });
  changed();
}

/** Forgets everything (signing out). */
export function forgetPeople() {
  profiles.clear();
  labels.clear();
  wantedProfiles.clear();
  wantedLabels.clear();
}

/**
 * A person as the page shows them: an avatar when they have one, their name, and their id beside
 * it when the name is not the id (so that a chosen name can never pass for somebody's id).
 */
export function personParts(userId) {
  const parts = [];
  const avatar = avatarOf(userId);
  if (avatar) {
    const img = el('img', 'avatar');
    img.alt = '';
    img.referrerPolicy = 'no-referrer';
    img.decoding = 'async';
    img.loading = 'lazy';
    img.src = avatar;
    img.addEventListener('error', () => img.remove(), { once: true });
    parts.push(img);
  }
  const name = nameOf(userId);
  parts.push(el('span', 'person-name', name));
  if (name !== userId) parts.push(el('span', 'person-id', userId));
  return parts;
}

function want(set, id) {
  if (typeof id !== 'string' || id === '') return;
  set.add(id);
  timer ??= setTimeout(fetchWanted, 30);
}

async function fetchWanted() {
  timer = null;
  const client = app.client;
  if (!client) return;
  const asked = [...wantedProfiles];
  const channels = [...wantedLabels];
  wantedProfiles.clear();
  wantedLabels.clear();
  const answers = [];
  for (let i = 0; i < asked.length; i += BATCH) answers.push(client.profiles(asked.slice(i, i + BATCH)).then((ack) => ack.ok && Object.entries(ack.profiles ?? {}).forEach(([id, p]) => profiles.set(id, p))));
  for (let i = 0; i < channels.length; i += BATCH) {
    const some = channels.slice(i, i + BATCH);
    answers.push(
      client.labels(some).then((ack) => {
        if (!ack.ok) return;
        // a channel left out is not the user's: remember it has no label to show
        for (const channel of some) labels.set(channel, ack.labels?.[channel] ?? null);
      }),
    );
  }
  await Promise.all(answers);
  if (client === app.client && (asked.length > 0 || channels.length > 0)) changed();
}

function changed() {
  for (const listener of listeners) listener();
}
