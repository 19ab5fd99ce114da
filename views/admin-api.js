/**
 * admin-api.js — how the operator console's panels call the API and show what it answered: a
 * 401 or 403 sends the console back to sign-in, a failure is shown in its panel's result and in
 * #admin-error, and a button is disabled while its request runs.
 */
import { apiRequest } from './chatty-client.js';

const errorBox = document.querySelector('#admin-error');
const loginSection = document.querySelector('#admin-login');
let signedOut = () => {};

/** What to do when the API says the session is gone or not an admin's (the sign-in form). */
export function onSignedOut(handler) {
  signedOut = handler;
}

export function setError(message) {
  errorBox.textContent = message || '';
}

/** Calls the API; on 401/403 switches to the sign-in form. */
export async function api(method, url, options) {
  const res = await apiRequest(method, url, options);
  if (res.status === 401) signedOut(`${res.error} — please sign in with an admin account.`);
  else if (res.status === 403) signedOut(`${res.error} — this needs an admin account.`);
  return res;
}

/** Shows a response in a <pre class="result">: its JSON when it succeeded, its error otherwise. */
export function showResult(target, res, label) {
  if (res.ok) {
    target.dataset.status = 'ok';
    target.textContent = res.json ? JSON.stringify(res.json, null, 2) : `Done (HTTP ${res.status}).`;
    return true;
  }
  showFailure(target, label, res.error, res.status);
  return false;
}

export function showFailure(target, label, message, status) {
  target.dataset.status = 'error';
  target.textContent = status ? `${message} (HTTP ${status})` : message;
  if (loginSection.hidden) setError(`${label}: ${message}`);
}

/** Runs an action with its button disabled and the error region cleared. */
export async function busy(button, fn) {
  setError('');
  if (button) button.disabled = true;
  try {
    await fn();
  } finally {
    if (button) button.disabled = false;
  }
}

/** A same-origin path for a JSON:API `links.next` (a string or {href}). */
export function nextLink(json) {
  const next = json?.links?.next;
  const href = typeof next === 'string' ? next : next?.href;
  if (!href) return null;
  try {
    const url = new URL(href, window.location.href);
    return url.pathname + url.search;
  } catch {
    return null;
  }
}
