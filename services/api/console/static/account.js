// Account: API keys (the key is shown once) and the webhook signing secret.
import { api, explain } from './api.js';
import { field, h, messageBox, when } from './dom.js';

function apiKeys(container) {
  const message = messageBox();
  const name = h('input', { name: 'key-name', required: true, maxlength: 100, placeholder: 'e.g. laptop script' });
  const days = h('input', { name: 'expires_in_days', type: 'number', min: 1, max: 3650, placeholder: 'never' });
  const created = h('div');
  const rows = h('tbody');
  const form = h('form', {}, h('div', { class: 'row' }, field('Key name', name), field('Expires after (days)', days)),
    h('button', { type: 'submit', class: 'primary' }, 'Create API key'));
  container.append(h('section', { class: 'card' }, h('h1', {}, 'API keys'), message, form, created,
    h('div', { class: 'table-wrap' }, h('table', {}, h('thead', {}, h('tr', {},
      ...['Name', 'Starts with', 'Scopes', 'Created', 'Last used', 'Expires', 'Actions'].map((t) => h('th', { scope: 'col' }, t)))), rows))));
  const load = async () => {
    try {
      const keys = await api('/auth/v1/api-keys');
      rows.replaceChildren(...keys.filter((k) => !k.revoked_at).map((k) => h('tr', {},
        h('td', {}, k.name), h('td', {}, h('code', {}, k.prefix)), h('td', {}, k.scopes.join(', ')),
        h('td', {}, when(k.created_at)), h('td', {}, when(k.last_used_at)), h('td', {}, k.expires_at ? when(k.expires_at) : 'never'),
        h('td', {}, h('button', { type: 'button', class: 'danger', onclick: async () => {
          try { await api(`/auth/v1/api-keys/${k.id}`, { method: 'DELETE' }); load(); } catch (error) { message.show(explain(error)); }
        } }, `Revoke ${k.name}`)))));
    } catch (error) { message.show(explain(error)); }
  };
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    message.show('');
    try {
      const json = { name: name.value };
      if (days.value) json.expires_in_days = Number(days.value);
      const key = await api('/auth/v1/api-keys', { method: 'POST', json });
      created.replaceChildren(h('div', { class: 'message ok', role: 'status' },
        h('p', {}, `Your new key "${key.name}" — copy it now, it is not shown again:`),
        h('p', { class: 'secret', id: 'new-api-key' }, key.key)));
      name.value = '';
      load();
    } catch (error) { message.show(explain(error)); }
  });
  load();
}

function webhookSecret(container) {
  const message = messageBox();
  const secret = h('p', { class: 'secret', id: 'webhook-secret' }, '••••••••');
  const show = h('button', { type: 'button' }, 'Show secret');
  const rotate = h('button', { type: 'button', class: 'danger' }, 'Rotate secret');
  container.append(h('section', { class: 'card' }, h('h1', {}, 'Webhook signing secret'), message,
    h('p', { class: 'muted' }, 'Conveyor signs each webhook delivery with this secret (header X-Conveyor-Signature).'),
    secret, h('div', { class: 'actions' }, show, rotate)));
  show.addEventListener('click', async () => {
    try { secret.textContent = (await api('/api/v1/webhooks/secret')).secret; } catch (error) { message.show(explain(error)); }
  });
  rotate.addEventListener('click', async () => {
    if (!confirm('Replace the secret? Receivers must then check signatures with the new one.')) return;
    try {
      secret.textContent = (await api('/api/v1/webhooks/secret/rotate', { method: 'POST' })).secret;
      message.show('The secret was replaced; deliveries from now on use the new one.', 'ok');
    } catch (error) { message.show(explain(error)); }
  });
}

export default function draw(view) {
  view.replaceChildren();
  apiKeys(view);
  webhookSecret(view);
  return null;
}
