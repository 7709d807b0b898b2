// Admin: operations (queues, dead letters, live workers), users (role, active, may submit), every job.
import { api, explain } from './api.js';
import { h, messageBox, when } from './dom.js';
import { jobsTable } from './jobs.js';

function users(container, me) {
  const message = messageBox();
  const rows = h('tbody');
  container.append(h('section', { class: 'card' }, h('h1', {}, 'Users'), message,
    h('div', { class: 'table-wrap' }, h('table', {}, h('thead', {}, h('tr', {},
      ...['Id', 'Username', 'E-mail', 'Role', 'Active', 'May submit jobs', 'Last login'].map((t) => h('th', { scope: 'col' }, t)))), rows))));
  const change = async (user, changes, control) => {
    message.show('');
    try {
      await api(`/auth/v1/users/${user.id}`, { method: 'PATCH', json: changes });
      message.show(`Saved ${user.username}.`, 'ok');
    } catch (error) {
      message.show(explain(error));
      load();
    }
    control.focus();
  };
  const row = (user) => {
    const self = user.id === me.id;
    const role = h('select', { 'aria-label': `Role of ${user.username}`, disabled: self },
      ...['user', 'admin'].map((r) => h('option', { value: r, selected: user.role === r }, r)));
    const active = h('input', { type: 'checkbox', 'aria-label': `${user.username} is active`, checked: user.is_active, disabled: self });
    const submit = h('input', { type: 'checkbox', 'aria-label': `${user.username} may submit jobs`, checked: user.may_submit });
    role.addEventListener('change', () => change(user, { role: role.value }, role));
    active.addEventListener('change', () => change(user, { is_active: active.checked }, active));
    submit.addEventListener('change', () => change(user, { may_submit: submit.checked }, submit));
    return h('tr', {}, h('td', {}, String(user.id)), h('td', {}, user.username), h('td', {}, user.email),
      h('td', {}, role), h('td', {}, active), h('td', {}, submit), h('td', {}, when(user.last_login_at)));
  };
  const load = async () => {
    try {
      const page = await api('/auth/v1/users?per_page=100');
      rows.replaceChildren(...page.items.map(row));
    } catch (error) { message.show(explain(error)); }
  };
  load();
}

const OPERATIONS_POLL_MS = 3000;

/** Queue depth and dead letters per kind, and the live workers, refreshed every 3 s. */
function operations(container) {
  const message = messageBox();
  const queues = h('tbody');
  const workers = h('tbody');
  const headRow = (...titles) => h('thead', {}, h('tr', {}, ...titles.map((t) => h('th', { scope: 'col' }, t))));
  container.append(h('section', { class: 'card', 'aria-label': 'Operations' }, h('h1', {}, 'Operations'), message,
    h('div', { class: 'side-by-side' },
      h('div', { class: 'table-wrap' }, h('h2', {}, 'Queues'),
        h('table', { 'aria-label': 'Queues' }, headRow('Kind', 'Waiting', 'Dead letters'), queues)),
      h('div', { class: 'table-wrap' }, h('h2', {}, 'Live workers'),
        h('table', { 'aria-label': 'Live workers' }, headRow('Worker', 'Kind', 'Last heartbeat', 'Running now'), workers)))));
  let timer = null;
  const load = async () => {
    try {
      const ops = await api('/api/v1/admin/operations');
      message.show(ops.broker_up ? '' : 'The message broker does not answer: queue depths are unknown.');
      queues.replaceChildren(...ops.queues.map((q) => h('tr', {}, h('td', {}, q.kind),
        h('td', {}, q.waiting === null ? '–' : String(q.waiting)),
        h('td', { class: q.dead_letters ? 'warn' : null }, q.dead_letters === null ? '–' : String(q.dead_letters)))));
      workers.replaceChildren(...ops.workers.map((w) => h('tr', {}, h('td', {}, h('code', {}, w.id)), h('td', {}, w.kind),
        h('td', {}, when(w.last_seen_at)),
        h('td', {}, w.current_job ? `job #${w.current_job.number} (user ${w.current_job.user_id})` : 'idle'))));
      if (!ops.workers.length) workers.append(h('tr', {}, h('td', { colspan: 4 }, 'No worker has reported recently.')));
    } catch (error) { message.show(explain(error)); }
    if (!stopped) timer = setTimeout(load, OPERATIONS_POLL_MS);
  };
  let stopped = false;
  load();
  return () => { stopped = true; clearTimeout(timer); };
}

export default function draw(view, rest, me) {
  view.replaceChildren();
  const stopOperations = operations(view);
  users(view, me);
  const stopJobs = jobsTable(view, '/api/v1/admin/jobs', { title: 'All jobs', admin: true });
  return () => { stopOperations(); stopJobs(); };
}
