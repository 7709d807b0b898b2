// The console's only way to the server: the public API, signed in by the session cookies.
// The tokens are HttpOnly cookies this script never sees; it reads only the CSRF companions and
// repeats them in X-CSRF-Token on every change (shared/principal.py explains the design).

const SESSION = '/auth/v1/session';

function cookie(name) {
  const found = document.cookie.split('; ').find((c) => c.startsWith(`${name}=`));
  return found ? decodeURIComponent(found.slice(name.length + 1)) : '';
}

/** Whether this browser holds a login (the access or the refresh cookie's readable companion). */
export function hasSession() {
  return Boolean(cookie('conveyor_csrf') || cookie('conveyor_refresh_csrf'));
}

export class ApiError extends Error {
  constructor(status, message, body, retryAfter) {
    super(message);
    this.status = status;
    this.body = body;
    this.retryAfter = retryAfter;
  }
}

/** What a refusal means for a person, from the API's own message. */
export function explain(error) {
  if (!(error instanceof ApiError)) return `Something went wrong: ${error.message}`;
  const message = error.message;
  const fields = error.body && error.body.errors && error.body.errors.json;
  const details = fields ? ` (${Object.entries(fields).map(([k, v]) => `${k}: ${[].concat(v).join(' ')}`).join('; ')})` : '';
  switch (error.status) {
    case 400: return `The request was refused: ${message}`;
    case 401: return `Please log in again: ${message}`;
    case 403: return `Not allowed: ${message}`;
    case 404: return `Not found: ${message}`;
    case 409: return `Not possible right now: ${message}`;
    case 413: return `Too large: ${message}`;
    case 422: return `Please check the form: ${message}${details}`;
    case 429: return `Too many requests: ${message}${error.retryAfter ? ` Try again in ${error.retryAfter} s.` : ''}`;
    case 503: return `The service is not available: ${message}`;
    default: return `The server answered ${error.status}: ${message}`;
  }
}

async function errorOf(response) {
  let body = null;
  try { body = await response.json(); } catch { /* not JSON */ }
  const message = (body && (body.message || body.error)) || response.statusText;
  return new ApiError(response.status, message, body, response.headers.get('Retry-After'));
}

let renewing = null;

/** Renew the access cookie with the refresh cookie (once, however many requests wait for it). */
export function renew() {
  renewing = renewing || fetch(`${SESSION}/refresh`, {
    method: 'POST', headers: { 'X-CSRF-Token': cookie('conveyor_refresh_csrf') },
  }).then((r) => r.ok).finally(() => { renewing = null; });
  return renewing;
}

/** Call the API; ``json`` or ``form`` (FormData) is the body. Resolves to the parsed answer. */
export async function api(path, { method = 'GET', json, form } = {}) {
  if (!cookie('conveyor_csrf') && cookie('conveyor_refresh_csrf')) await renew();
  const send = () => {
    const headers = { Accept: 'application/json' };
    if (method !== 'GET') headers['X-CSRF-Token'] = cookie('conveyor_csrf');
    if (json !== undefined) headers['Content-Type'] = 'application/json';
    return fetch(path, { method, headers, body: json !== undefined ? JSON.stringify(json) : form });
  };
  let response = await send();
  if (response.status === 401 && cookie('conveyor_refresh_csrf') && await renew()) response = await send();
  if (!response.ok) throw await errorOf(response);
  if (response.status === 204) return null;
  return response.json();
}

export async function logIn(login, password) {
  const response = await fetch(SESSION, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ login, password }),
  });
  if (!response.ok) throw await errorOf(response);
  return response.json();
}

export async function logOut() {
  await fetch(SESSION, { method: 'DELETE', headers: { 'X-CSRF-Token': cookie('conveyor_refresh_csrf') } });
}

export function register(username, email, password) {
  return api('/auth/v1/register', { method: 'POST', json: { username, email, password } });
}
