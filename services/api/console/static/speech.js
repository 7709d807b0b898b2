// Speech to text: a file in, the transcript growing live, then the transcript beside the player.
import { api, explain } from './api.js';
import { dropZone, field, h, messageBox, seconds } from './dom.js';
import { jobPage, submitJob } from './job.js';

const EXPORTS = ['txt', 'docx', 'srt', 'vtt', 'json'];
const LOW_CONFIDENCE = 0.5;

function drawForm(view) {
  const message = messageBox();
  let file = null;
  const zone = dropZone('Recording (audio or video)', 'audio/*,video/*', (chosen) => { file = chosen; });
  const model = h('select', { name: 'model' }, h('option', { value: '' }, 'Automatic (the default model)'));
  const language = h('input', { name: 'language', placeholder: 'e.g. en (empty: the model decides)', maxlength: 16 });
  const button = h('button', { type: 'submit', class: 'primary' }, 'Transcribe');
  const form = h('form', { class: 'card' }, h('h1', {}, 'Speech to text'), message, zone,
    h('div', { class: 'row' }, field('Model', model), field('Language', language)), h('div', {}, button));
  view.replaceChildren(form);
  api('/api/v1/models').then((catalog) => {
    for (const entry of catalog.asr || []) {
      model.append(h('option', { value: entry.id },
        `${entry.id} — ${entry.engine}, ${(entry.languages || []).join(', ') || 'many languages'}`));
    }
  }).catch((error) => message.show(explain(error)));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (!file) { message.show('Choose or drop a recording first.'); return; }
    const body = new FormData();
    body.append('file', file);
    if (model.value) body.append('model', model.value);
    if (language.value.trim()) body.append('language', language.value.trim());
    submitJob('asr', { method: 'POST', form: body }, message, button);
  });
}

/** While the job runs: the transcript as it grows, chunk by chunk. */
function drawLive(body) {
  const text = h('p', { class: 'partial-text', 'aria-live': 'polite' });
  body.append(h('section', { class: 'card' }, h('h2', {}, 'Transcript so far'), text));
  return (chunk) => {
    if (chunk.text) text.append(`${text.textContent ? ' ' : ''}${chunk.text.trim()}`);
  };
}

/** The index of the word being spoken at ``time`` (words are in order), or -1. */
function wordAt(words, time) {
  let low = 0;
  let high = words.length - 1;
  let found = -1;
  while (low <= high) {
    const mid = (low + high) >> 1;
    if (words[mid].start <= time) { found = mid; low = mid + 1; } else high = mid - 1;
  }
  return found >= 0 && time <= words[found].end + 0.15 ? found : -1;
}

function drawResult(body, job, result) {
  const isVideo = (job.input && job.input.content_type || '').startsWith('video/');
  const player = h(isVideo ? 'video' : 'audio', { controls: true, preload: 'metadata', src: `/api/v1/jobs/${job.id}/input` });
  const words = result.words || [];
  const buttons = words.map((w, i) => h('button', {
    type: 'button', class: `word${w.conf !== undefined && w.conf < LOW_CONFIDENCE ? ' low' : ''}`, 'data-index': i,
    title: `${seconds(w.start)}${w.conf !== undefined ? ` · confidence ${Math.round(w.conf * 100)} %` : ''}`,
  }, w.word.trim()));
  const transcript = h('div', { class: 'transcript', 'aria-label': 'Transcript: choose a word to play from there' },
    ...buttons.flatMap((b) => [b, ' ']));
  if (!words.length) transcript.append(h('p', { class: 'text' }, result.text || '(nothing was heard)'));
  transcript.addEventListener('click', (event) => {
    const button = event.target.closest('.word');
    if (!button) return;
    player.currentTime = words[Number(button.dataset.index)].start;
    player.play().catch(() => {});
  });
  let current = -1;
  player.addEventListener('timeupdate', () => {
    const index = wordAt(words, player.currentTime);
    if (index === current) return;
    if (current >= 0) buttons[current].classList.remove('current');
    if (index >= 0) buttons[index].classList.add('current');
    current = index;
  });
  const lowCount = words.filter((w) => w.conf !== undefined && w.conf < LOW_CONFIDENCE).length;
  body.append(h('div', { class: 'transcript-layout' },
    h('section', { class: 'card player', 'aria-label': 'Recording' }, player,
      h('p', { class: 'muted' }, `Language: ${result.language || '–'} · ${seconds(result.duration)} · ${words.length} words`),
      h('h2', {}, 'Download the transcript'),
      h('div', { class: 'actions' }, ...EXPORTS.map((format) => h('a', {
        class: 'button', href: `/api/v1/jobs/${job.id}/export?format=${format}`, download: '',
      }, format.toUpperCase())))),
    h('section', { class: 'card', 'aria-label': 'Transcript' },
      h('h2', {}, job.status === 'partial' ? 'Transcript (partial: the job was stopped)' : 'Transcript'),
      h('p', { class: 'legend muted' }, 'Choose a word to play from there; the word being spoken is highlighted.',
        lowCount ? ` ${lowCount} words the model was unsure of are underlined with a wavy line.` : ''),
      transcript)));
}

export default function draw(view, [jobId]) {
  if (jobId) return jobPage(view, jobId, { drawResult, drawLive });
  drawForm(view);
  return null;
}
