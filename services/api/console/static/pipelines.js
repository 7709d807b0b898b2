// Pipelines: a preset as a form (one file in, several jobs chained), then its steps live as they run.
import { api, explain, renew } from './api.js';
import { dropZone, field, h, messageBox, when } from './dom.js';
import { KIND_NAMES, SECTION_OF } from './job.js';

const NAMES = new Intl.DisplayNames(['en'], { type: 'language' });
const languageName = (code) => { try { return `${NAMES.of(code)} (${code})`; } catch { return code; } };
const POLL_MS = 2000;
const DONE_STEP = new Set(['succeeded', 'failed', 'partial', 'cancelled']);

// The presets of services/api/pipeline_presets.py, as a person chooses between them.
export const PRESETS = {
  'transcribe-translate': {
    title: 'Transcribe and translate', file: 'Recording (audio or video)', accept: 'audio/*,video/*',
    about: 'Speech to text, then the transcript (one line per segment) into each language you tick.',
  },
  subtitles: {
    title: 'Subtitles', file: 'Video or recording', accept: 'video/*,audio/*',
    about: 'The sound track as 16 kHz audio, speech to text, then each language: srt and vtt files with the speech\'s timings, and if you like the video back with them, as streams or drawn into the picture.',
  },
  'read-translate': {
    title: 'Read and translate a picture', file: 'Picture with printed text', accept: 'image/*',
    about: 'The text in a picture read by OCR, then each line translated, with its box.',
  },
};

function pipelineTitle(pipeline) {
  return pipeline.preset ? (PRESETS[pipeline.preset] || {}).title || pipeline.preset : 'Pipeline of your own steps';
}

function drawForm(container) {
  const message = messageBox();
  let file = null;
  const preset = h('select', { name: 'preset' },
    ...Object.entries(PRESETS).map(([value, p]) => h('option', { value }, p.title)));
  const about = h('p', { class: 'muted' });
  const zoneSlot = h('div');
  const source = h('select', { name: 'source_lang' });
  const targets = h('fieldset', { class: 'targets' }, h('legend', {}, 'Into'));
  // The subtitles preset can also put them into the video: as streams a player switches between
  // (mux), or drawn into the picture (burn_in, one of the ticked languages).
  const mux = h('select', { name: 'mux' }, h('option', { value: '' }, 'No video, only subtitle files'),
    ...['mp4', 'mkv', 'webm'].map((target) => h('option', { value: target }, `${target}: one subtitle stream per language`)));
  const burnIn = h('select', { name: 'burn_in' });
  const video = h('fieldset', { class: 'targets video-out' }, h('legend', {}, 'Into the video'),
    h('div', { class: 'row' }, field('Subtitle streams', mux), field('Burned into the picture', burnIn)));
  const button = h('button', { type: 'submit', class: 'primary' }, 'Start pipeline');
  const form = h('form', { class: 'card' }, h('h1', {}, 'Run a pipeline'), message,
    field('Preset', preset), about, zoneSlot,
    h('div', { class: 'row' }, field('Spoken or written in', source)), targets, video, h('div', {}, button));
  container.append(form);

  const tickedLanguages = () => [...targets.querySelectorAll('input:checked')].map((box) => box.value);
  const fillBurnIn = () => {
    const kept = burnIn.value;
    burnIn.replaceChildren(h('option', { value: '' }, 'None'),
      ...tickedLanguages().map((code) => h('option', { value: code }, languageName(code))));
    burnIn.value = tickedLanguages().includes(kept) ? kept : '';
  };
  targets.addEventListener('change', fillBurnIn);

  const showPreset = () => {
    const chosen = PRESETS[preset.value];
    about.textContent = chosen.about;
    video.hidden = preset.value !== 'subtitles';
    file = null;
    zoneSlot.replaceChildren(dropZone(chosen.file, chosen.accept, (picked) => { file = picked; }));
  };
  let pairs = [];
  const fillTargets = () => {
    const ticked = new Set([...targets.querySelectorAll('input:checked')].map((box) => box.value));
    const boxes = pairs.filter((p) => p.source === source.value).map((p) => {
      const box = h('input', { type: 'checkbox', name: 'target_langs', value: p.target, checked: ticked.has(p.target) });
      return h('label', { class: 'check' }, box, ` ${languageName(p.target)}${p.via.length ? ` (via ${p.via.join(', ')})` : ''}`);
    });
    targets.replaceChildren(h('legend', {}, 'Into'), ...boxes);
    fillBurnIn();
  };
  api('/api/v1/languages').then((catalog) => {
    pairs = catalog.pairs;
    if (!pairs.length) { message.show('No translation engine is running right now; try again later.'); return; }
    const sources = [...new Set(pairs.map((p) => p.source))].sort();
    source.replaceChildren(...sources.map((code) => h('option', { value: code }, languageName(code))));
    source.value = sources.includes('en') ? 'en' : sources[0];
    fillTargets();
  }).catch((error) => message.show(explain(error)));
  preset.addEventListener('change', showPreset);
  source.addEventListener('change', fillTargets);
  showPreset();

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    message.show('');
    const langs = tickedLanguages();
    if (!file) { message.show('Choose or drop a file first.'); return; }
    if (!langs.length) { message.show('Tick at least one language to translate into.'); return; }
    const options = { source_lang: source.value, target_langs: langs };
    if (preset.value === 'subtitles') {
      if (mux.value) options.mux = mux.value;
      if (burnIn.value) options.burn_in = burnIn.value;
    }
    const body = new FormData();
    body.append('file', file);
    body.append('preset', preset.value);
    body.append('options', JSON.stringify(options));
    button.disabled = true;
    try {
      const pipeline = await api('/api/v1/pipelines', { method: 'POST', form: body });
      location.hash = `#/pipelines/${pipeline.id}`;
    } catch (error) {
      message.show(explain(error));
    } finally {
      button.disabled = false;
    }
  });
}

function drawList(container) {
  const message = messageBox();
  const rows = h('tbody');
  const summary = h('p', { class: 'muted', 'aria-live': 'polite' });
  container.append(h('section', { class: 'card' }, h('h2', {}, 'My pipelines'), message,
    h('div', { class: 'table-wrap' }, h('table', {}, h('thead', {}, h('tr', {},
      ...['Pipeline', 'Status', 'Progress', 'Steps', 'Submitted', ''].map((t) => h('th', { scope: 'col' }, t)))), rows)),
    summary));
  let timer = null;
  let stopped = false;
  const load = async () => {
    clearTimeout(timer);
    try {
      const page = await api('/api/v1/pipelines?per_page=20');
      if (stopped) return;
      rows.replaceChildren(...page.items.map((p) => h('tr', { 'data-pipeline': p.id },
        h('td', {}, pipelineTitle(p), p.input ? h('span', { class: 'muted' }, ` · ${p.input.filename}`) : null),
        h('td', {}, h('span', { class: `status s-${p.status}` }, p.status)),
        h('td', {}, `${Math.round(p.progress.percent)} %`),
        h('td', {}, p.steps.map((s) => `${s.name}: ${s.status}`).join(', ')),
        h('td', {}, when(p.created_at)),
        h('td', {}, h('a', { class: 'button', href: `#/pipelines/${p.id}` }, 'Open')))));
      summary.textContent = page.total ? `${page.items.length} of ${page.total} pipelines, newest first` : 'No pipelines yet.';
      if (page.items.some((p) => p.status === 'running')) timer = setTimeout(load, POLL_MS);
    } catch (error) { message.show(explain(error)); }
  };
  load();
  return () => { stopped = true; clearTimeout(timer); };
}

function stepRow(step) {
  const percent = step.progress === null || step.progress === undefined ? '' : `${Math.round(step.progress)} %`;
  return h('tr', { 'data-step': step.name },
    h('th', { scope: 'row' }, step.name),
    h('td', {}, KIND_NAMES[step.kind] || step.kind),
    h('td', {}, step.input ? (step.input === 'upload' ? 'the upload' : step.input) : 'its own text'),
    h('td', {}, h('span', { class: `status s-${step.status}` }, step.status)),
    h('td', {}, DONE_STEP.has(step.status) || step.status === 'pending' ? '' : h('progress', {
      max: 100, value: step.progress || 0, 'aria-label': `Progress of ${step.name}` }), ` ${percent}`),
    h('td', {}, step.job_id ? h('a', { href: `#/${SECTION_OF[step.kind]}/${step.job_id}` }, 'Open job') : '–'),
    h('td', { class: 'step-error' }, step.error || ''));
}

/** What the pipeline made: each translation, subtitle files, or the lines read from a picture. */
async function drawOutputs(container, pipeline) {
  const section = h('section', { class: 'card', 'aria-label': 'Results' }, h('h2', {}, 'Results'));
  container.append(section);
  const lines = pipeline.translated_lines || {};
  for (const [lang, found] of Object.entries(lines)) {
    section.append(h('h3', {}, languageName(lang)), h('div', { class: 'table-wrap' }, h('table', { class: 'read-lines' },
      h('thead', {}, h('tr', {}, ...['Text read', 'Translation', 'Box (x, y, w, h)'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, ...found.map((line) => h('tr', {}, h('td', {}, line.text), h('td', { lang }, line.translation),
        h('td', { class: 'muted' }, [line.x, line.y, line.width, line.height].map((v) => v.toFixed(2)).join(', '))))))));
  }
  for (const step of pipeline.steps) {
    if (step.kind !== 'translate' || step.status !== 'succeeded' || lines[step.name.replace(/^translate-/, '')]) continue;
    let result;
    try {
      result = (await api(`/api/v1/jobs/${step.job_id}/result`)).result;
    } catch (error) {
      section.append(h('p', { class: 'message error' }, explain(error)));
      continue;
    }
    const lang = (result.route || []).slice(-1)[0] || step.name;
    const subtitles = (pipeline.subtitles || {})[lang];
    section.append(h('h3', {}, languageName(lang)),
      h('p', { class: 'text translation', lang, 'data-lang': lang }, result.translated_text || ''),
      h('div', { class: 'actions' },
        h('a', { class: 'button', href: `/api/v1/jobs/${step.job_id}/export?format=txt`, download: '' }, 'Download as text'),
        ...Object.entries(subtitles || {}).map(([fmt, href]) => h('a', { class: 'button', href, download: '' },
          `Subtitles (${fmt})`))));
  }
  // The subtitles preset's last step (add-subtitles): the video with its subtitles, to play or keep.
  for (const step of pipeline.steps) {
    if (!(step.subtitles || []).length || step.status !== 'succeeded' || !step.links.artifacts) continue;
    for (const [name, href] of Object.entries(step.links.artifacts)) {
      section.append(h('h3', {}, 'The video with its subtitles'),
        h('video', { class: 'subtitled-video', controls: '', preload: 'metadata', src: href }),
        h('div', { class: 'actions' }, h('a', { class: 'button', href, download: name }, `Download ${name}`)));
    }
  }
  if (section.children.length === 1) section.append(h('p', { class: 'muted' }, 'Nothing was made.'));
}

/** A pipeline's page: its steps, kept live by the pipeline's event stream, then what it made. */
function drawPipeline(view, pipelineId) {
  let source = null;
  let closed = false;
  const stop = () => { closed = true; if (source) source.close(); };
  const show = async () => {
    let pipeline;
    try {
      pipeline = await api(`/api/v1/pipelines/${pipelineId}`);
    } catch (error) {
      view.replaceChildren(h('p', { class: 'message error', role: 'alert' }, explain(error)));
      return;
    }
    if (closed) return;
    const message = messageBox();
    const badge = h('span', { class: `status s-${pipeline.status}` }, pipeline.status);
    const bar = h('progress', { max: 100, value: pipeline.progress.percent, 'aria-label': 'Pipeline progress' });
    const text = h('p', { class: 'progress-text', 'aria-live': 'polite' });
    const inputs = Object.fromEntries(pipeline.steps.map((step) => [step.name, step.input]));
    const rows = h('tbody');
    const error = h('p', { class: 'message error' });
    const act = async (suffix) => {
      try {
        await api(`/api/v1/pipelines/${pipelineId}/${suffix}`, { method: 'POST' });
        stop();
        closed = false;
        show();
      } catch (failure) { message.show(explain(failure)); }
    };
    const actions = h('div', { class: 'actions' });
    const update = (data) => {
      badge.textContent = data.status;
      badge.className = `status s-${data.status}`;
      bar.value = data.progress.percent;
      const eta = data.progress.eta_seconds;
      text.textContent = data.status === 'running'
        ? `${Math.round(data.progress.percent)} % — ${eta ? `about ${Math.ceil(eta)} s of work left` : 'finishing'}`
        : `${data.status}, ${Math.round(data.progress.percent)} % done`;
      // The stream's steps say where each stands; what each reads is the pipeline's own.
      rows.replaceChildren(...data.steps.map((step) => stepRow({ input: inputs[step.name], ...step })));
      error.textContent = data.error || '';
      error.hidden = !data.error;
      actions.replaceChildren(...[data.status === 'running'
        ? h('button', { type: 'button', class: 'danger', onclick: () => act('cancel') }, 'Cancel this pipeline')
        : null,
      ['failed', 'cancelled'].includes(data.status)
        ? h('button', { type: 'button', onclick: () => act('retry') }, 'Retry from the steps that did not succeed')
        : null].filter(Boolean));
    };
    view.replaceChildren(
      h('header', { class: 'job-head' }, h('h1', {}, pipelineTitle(pipeline)),
        h('p', {}, badge, ' ', h('span', { class: 'muted' }, `submitted ${when(pipeline.created_at)}`),
          pipeline.input ? h('span', { class: 'muted' }, ` · ${pipeline.input.filename}`) : null,
          pipeline.run > 1 ? h('span', { class: 'muted' }, ` · run ${pipeline.run}`) : null)),
      h('section', { class: 'card', 'aria-label': 'Steps' }, bar, text, error, message,
        h('div', { class: 'table-wrap' }, h('table', { class: 'steps' }, h('thead', {}, h('tr', {},
          ...['Step', 'Kind', 'Reads', 'Status', 'Progress', 'Job', ''].map((t) => h('th', { scope: 'col' }, t)))), rows)),
        actions));
    update(pipeline);
    if (pipeline.status !== 'running') {
      drawOutputs(view, pipeline);
      return;
    }
    let failures = 0;
    let ended = false;
    const open = () => {
      source = new EventSource(`/api/v1/pipelines/${pipelineId}/events`);
      source.addEventListener('status', (event) => { failures = 0; update(JSON.parse(event.data)); });
      source.addEventListener('end', () => {
        ended = true;
        setTimeout(() => { if (source) source.close(); }, 3000);
        if (!closed) show();
      });
      source.onerror = async () => {
        if (ended) { source.close(); return; }
        if (closed || source.readyState !== EventSource.CLOSED) return;
        failures += 1;
        if (failures > 3) { text.textContent = 'Lost the live connection; reload the page to see where it is.'; return; }
        await renew();
        if (!closed) open();
      };
    };
    open();
  };
  show();
  return stop;
}

export default function draw(view, [pipelineId]) {
  view.replaceChildren();
  if (pipelineId) return drawPipeline(view, pipelineId);
  drawForm(view);
  return drawList(view);
}
