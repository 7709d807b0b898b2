// What every kind's page shares: submitting, watching a job live, cancelling, and its header.
import { api, explain, renew } from './api.js';
import { h, messageBox, when } from './dom.js';

export const SECTION_OF = { translate: 'translate', asr: 'speech', vision: 'images', convert: 'convert' };
export const KIND_NAMES = { translate: 'Translation', asr: 'Speech to text', vision: 'Image analysis', convert: 'Conversion' };
const ACTIVE = new Set(['queued', 'running', 'retrying']);

export const isActive = (status) => ACTIVE.has(status);

/** Submit a job and open its page; refusals (400/413/429…) are shown in ``message``. */
export async function submitJob(kind, body, message, button) {
  message.show('');
  button.disabled = true;
  try {
    const job = await api(`/api/v1/jobs/${kind}`, body);
    location.hash = `#/${SECTION_OF[kind]}/${job.id}`;
  } catch (error) {
    message.show(explain(error));
  } finally {
    button.disabled = false;
  }
}

/** "30 % — running, ~83 s left", "3rd in line, ~40 s": the API's own words, with the percentage. */
function progressText(status, progress) {
  const parts = [];
  if (progress.percent !== null && progress.percent !== undefined && status === 'running') {
    parts.push(`${Math.round(progress.percent)} %`);
  }
  if (progress.message) parts.push(progress.message);
  else if (progress.eta_seconds) parts.push(`${status}, ~${Math.ceil(progress.eta_seconds)} s left`);
  else parts.push(status === 'queued' ? 'waiting in line' : status);
  return parts.join(' — ');
}

/**
 * The live part of a job page: a progress bar with queue position and ETA fed by the job's
 * event stream, and a Cancel button. ``onChunk(data)`` gets each partial result, ``onEnd()``
 * is called once the job has ended. Returns a function that closes the stream.
 */
export function watchJob(container, job, { onChunk = () => {}, onEnd }) {
  const bar = h('progress', { max: 100, 'aria-label': 'Progress' });
  const text = h('p', { class: 'progress-text', 'aria-live': 'polite' }, 'Connecting…');
  const message = messageBox();
  const cancel = h('button', { type: 'button', class: 'danger', onclick: async () => {
    cancel.disabled = true;
    try { await api(`/api/v1/jobs/${job.id}/cancel`, { method: 'POST' }); } catch (error) {
      message.show(explain(error));
      cancel.disabled = false;
    }
  } }, 'Cancel this job');
  const box = h('section', { class: 'live card', 'aria-label': 'Progress' }, bar, text, message, cancel);
  container.append(box);
  let source = null;
  let closed = false;
  let ended = false;
  let lastSeq = -1;
  let failures = 0;

  const open = () => {
    source = new EventSource(`/api/v1/jobs/${job.id}/events`);
    source.addEventListener('status', (event) => {
      failures = 0;
      const data = JSON.parse(event.data);
      const progress = data.progress || {};
      if (data.status === 'running' && progress.percent !== null && progress.percent !== undefined) {
        bar.value = progress.percent;
      } else if (data.status !== 'running') {
        bar.removeAttribute('value');
      }
      text.textContent = progressText(data.status, progress);
      box.dataset.status = data.status;
      const badge = document.querySelector('.job-head .status');
      if (badge) {
        badge.textContent = data.status;
        badge.className = `status s-${data.status}`;
      }
    });
    source.addEventListener('chunk', (event) => {
      const data = JSON.parse(event.data);
      if (data.seq <= lastSeq) return;
      lastSeq = data.seq;
      onChunk(data);
    });
    source.addEventListener('end', () => {
      // The server closes the stream right after ``end``: let it, then stop the browser from
      // reconnecting (closing first would abort the response mid-way).
      ended = true;
      setTimeout(stop, 3000);
      box.remove();
      onEnd();
    });
    source.onerror = async () => {
      if (ended) { stop(); return; }
      // The server ends a long stream now and then (the browser reconnects by itself); a stream
      // refused because the access cookie expired is reopened once the cookie is renewed.
      if (closed || source.readyState !== EventSource.CLOSED) return;
      failures += 1;
      if (failures > 3) { text.textContent = 'Lost the live connection; reload the page to see where the job is.'; return; }
      await renew();
      if (!closed) open();
    };
  };
  const stop = () => {
    closed = true;
    if (source) source.close();
  };
  open();
  return stop;
}

/** The title block of a job page: what it is, its state, and when. */
export function jobHeader(job) {
  return h('header', { class: 'job-head' },
    h('h1', {}, `${KIND_NAMES[job.kind] || job.kind} #${job.number}`),
    h('p', {}, h('span', { class: `status s-${job.status}` }, job.status), ' ',
      h('span', { class: 'muted' }, `submitted ${when(job.created_at)}`),
      job.input ? h('span', { class: 'muted' }, ` · ${job.input.filename}`) : null,
      job.pipeline_id ? h('span', {}, ' · ', h('a', { href: `#/pipelines/${job.pipeline_id}` },
        `step ${job.pipeline_step} of a pipeline`)) : null),
    job.error ? h('p', { class: 'message error' }, job.error) : null);
}

/**
 * Draw a job's page in ``view``: header, live progress while it runs, then ``drawResult``.
 * ``drawLive(container)`` may prepare a place for partial results and return a chunk handler.
 */
export function jobPage(view, jobId, { drawResult, drawLive }) {
  let stop = null;
  const show = async () => {
    let job;
    try {
      job = await api(`/api/v1/jobs/${jobId}`);
    } catch (error) {
      view.replaceChildren(h('p', { class: 'message error', role: 'alert' }, explain(error)));
      return;
    }
    const body = h('div', { class: 'job' });
    view.replaceChildren(jobHeader(job), body);
    if (isActive(job.status)) {
      const onChunk = drawLive ? drawLive(body, job) : undefined;
      stop = watchJob(body, job, { onChunk, onEnd: show });
      return;
    }
    let result = null;
    if (job.status === 'succeeded' || job.status === 'partial') {
      try {
        result = (await api(`/api/v1/jobs/${jobId}/result`)).result;
      } catch (error) {
        body.append(h('p', { class: 'message error' }, explain(error)));
      }
    }
    if (result) drawResult(body, job, result);
    else body.append(h('p', {}, `This job ended as ${job.status}; it has no result.`));
  };
  show();
  return () => { if (stop) stop(); };
}
