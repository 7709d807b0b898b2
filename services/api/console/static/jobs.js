// Jobs: a list of jobs (mine, or everybody's for the Admin page), filtered, kept live, with actions.
import { api, explain } from './api.js';
import { field, h, messageBox, when } from './dom.js';
import { KIND_NAMES, SECTION_OF, isActive } from './job.js';

const STATUSES = ['queued', 'running', 'retrying', 'succeeded', 'partial', 'failed', 'cancelled'];
const POLL_MS = 2000;

/**
 * A filterable jobs table in ``container`` from ``path`` (/api/v1/jobs or /api/v1/admin/jobs);
 * while a listed job is active the list is reloaded every 2 s. Returns a function that stops it.
 */
export function jobsTable(container, path, { title, admin = false }) {
  const message = messageBox();
  const kind = h('select', { name: 'kind' }, h('option', { value: '' }, 'All kinds'),
    ...Object.entries(KIND_NAMES).map(([value, label]) => h('option', { value }, label)));
  const status = h('select', { name: 'status' }, h('option', { value: '' }, 'All statuses'),
    ...STATUSES.map((value) => h('option', { value }, value)));
  const user = admin ? h('input', { name: 'user_id', type: 'number', min: 1, placeholder: 'any user' }) : null;
  const rows = h('tbody');
  const summary = h('p', { class: 'muted', 'aria-live': 'polite' });
  container.append(h('section', { class: 'card' }, h('h1', {}, title), message,
    h('div', { class: 'row' }, field('Kind', kind), field('Status', status), user ? field('User id', user) : null),
    h('div', { class: 'table-wrap' }, h('table', {}, h('thead', {}, h('tr', {},
      ...['#', 'Kind', 'Status', 'Progress', 'Submitted', admin ? 'User' : null, 'Actions']
        .filter(Boolean).map((t) => h('th', { scope: 'col' }, t)))), rows)), summary));
  let timer = null;
  let stopped = false;

  const act = async (job, method, suffix) => {
    try {
      await api(`/api/v1/jobs/${job.id}${suffix}`, { method });
      load();
    } catch (error) { message.show(explain(error)); }
  };
  const retry = async (job) => {
    try {
      const again = await api(`/api/v1/admin/jobs/${job.id}/retry`, { method: 'POST' });
      message.show(`Job #${job.number} is queued again as job #${again.number}.`, 'ok');
      load();
    } catch (error) { message.show(explain(error)); }
  };
  const row = (job) => h('tr', { 'data-job': job.id },
    h('td', {}, String(job.number)),
    h('td', {}, h('span', { class: 'kind' }, KIND_NAMES[job.kind] || job.kind), job.pipeline_id ? h('div', {}, h('a', {
      href: `#/pipelines/${job.pipeline_id}`, class: 'pipeline-link' }, `step ${job.pipeline_step} of a pipeline`)) : null),
    h('td', {}, h('span', { class: `status s-${job.status}` }, job.status)),
    h('td', {}, job.progress && job.progress.message ? job.progress.message
      : job.progress && job.progress.percent !== null && job.progress.percent !== undefined ? `${Math.round(job.progress.percent)} %` : ''),
    h('td', {}, when(job.created_at)),
    admin ? h('td', {}, String(job.user_id)) : null,
    admin ? h('td', {}, job.status === 'failed' ? h('button', { type: 'button', onclick: () => retry(job) },
      `Retry #${job.number}`) : null) : h('td', {}, h('div', { class: 'actions' },
      h('a', { class: 'button', href: `#/${SECTION_OF[job.kind]}/${job.id}` }, `Open #${job.number}`),
      isActive(job.status) ? h('button', { type: 'button', class: 'danger', onclick: () => act(job, 'POST', '/cancel') }, `Cancel #${job.number}`) : null,
      h('button', { type: 'button', onclick: () => {
        if (confirm(`Delete job #${job.number} and its files?`)) act(job, 'DELETE', '');
      } }, `Delete #${job.number}`))));

  const load = async () => {
    clearTimeout(timer);
    const query = new URLSearchParams({ per_page: 50 });
    if (kind.value) query.set('kind', kind.value);
    if (status.value) query.set('status', status.value);
    if (user && user.value) query.set('user_id', user.value);
    try {
      const page = await api(`${path}?${query}`);
      if (stopped) return;
      rows.replaceChildren(...page.items.map(row));
      summary.textContent = page.total ? `${page.items.length} of ${page.total} jobs, newest first` : 'No jobs yet.';
      if (page.items.some((job) => isActive(job.status))) timer = setTimeout(load, POLL_MS);
    } catch (error) { message.show(explain(error)); }
  };
  for (const control of [kind, status, user]) if (control) control.addEventListener('change', load);
  load();
  return () => { stopped = true; clearTimeout(timer); };
}

export default function draw(view) {
  view.replaceChildren();
  return jobsTable(view, '/api/v1/jobs', { title: 'My jobs' });
}
