// Convert: a media file in, a target from the live catalog, then the output playing, its probe, download.
import { api, explain } from './api.js';
import { bytes, dropZone, field, h, messageBox, seconds } from './dom.js';
import { jobPage, submitJob } from './job.js';

function drawForm(view) {
  const message = messageBox();
  let file = null;
  const zone = dropZone('Media file (video, audio or picture)', 'video/*,audio/*,image/*', (chosen) => { file = chosen; });
  const target = h('select', { name: 'target', required: true });
  const start = h('input', { name: 'start', type: 'number', min: 0, step: 0.1, placeholder: 'from the beginning' });
  const end = h('input', { name: 'end', type: 'number', min: 0, step: 0.1, placeholder: 'to the end' });
  const button = h('button', { type: 'submit', class: 'primary' }, 'Convert');
  const form = h('form', { class: 'card' }, h('h1', {}, 'Convert a media file'), message, zone,
    h('div', { class: 'row' }, field('Convert to', target), field('Start (seconds)', start), field('End (seconds)', end)),
    h('div', {}, button));
  view.replaceChildren(form);
  api('/api/v1/models').then((catalog) => {
    const groups = {};
    for (const entry of catalog.convert || []) {
      groups[entry.kind] = groups[entry.kind] || h('optgroup', { label: entry.kind });
      groups[entry.kind].append(h('option', { value: entry.id }, `${entry.extension} (${entry.content_type}; from ${entry.inputs.join(' or ')})`));
    }
    target.replaceChildren(...Object.values(groups));
    if (!target.options.length) message.show('No conversion engine is running right now; try again later.');
  }).catch((error) => message.show(explain(error)));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (!file) { message.show('Choose or drop a file first.'); return; }
    const body = new FormData();
    body.append('file', file);
    body.append('target', target.value);
    if (start.value) body.append('start', start.value);
    if (end.value) body.append('end', end.value);
    submitJob('convert', { method: 'POST', form: body }, message, button);
  });
}

function player(artifact) {
  const type = artifact.content_type || '';
  if (type.startsWith('video/')) return h('video', { class: 'media-out', controls: true, src: artifact.url });
  if (type.startsWith('audio/')) return h('audio', { class: 'media-out', controls: true, src: artifact.url });
  if (type.startsWith('image/')) return h('img', { class: 'media-out', src: artifact.url, alt: `The converted ${artifact.name}` });
  return h('p', {}, 'No preview for this format.');
}

const PROBE_LABELS = {
  target: 'Format', content_type: 'Type', size: 'Size', duration: 'Duration', width: 'Width', height: 'Height',
  video_codec: 'Video codec', audio_codec: 'Audio codec', sample_rate: 'Sample rate', channels: 'Channels',
  fps: 'Frames per second', remuxed: 'Copied without re-encoding', audio: 'Audio', video: 'Video',
  format: 'Container', elapsed_seconds: 'Conversion took', copied_streams: 'Streams copied as they were',
};

/** A probe value as a person reads it: streams as "vp9, 160×120, 10 fps", sizes in KB. */
function probeValue(key, value) {
  if (key === 'size') return bytes(value);
  if (key === 'duration') return seconds(value);
  if (key === 'elapsed_seconds') return seconds(value);
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  if (Array.isArray(value)) return value.join(', ');
  if (value && typeof value === 'object') {
    return [value.codec, value.width && value.height ? `${value.width}×${value.height}` : null,
      value.fps ? `${value.fps} fps` : null, value.sample_rate ? `${value.sample_rate} Hz` : null,
      value.channels ? `${value.channels} channel${value.channels > 1 ? 's' : ''}` : null].filter(Boolean).join(', ');
  }
  return String(value);
}

function drawResult(body, job, result) {
  const artifact = (job.artifacts || []).find((a) => a.name === result.artifact) || (job.artifacts || [])[0];
  const probe = h('dl', { class: 'probe' });
  for (const [key, value] of Object.entries(result)) {
    if (key === 'artifact' || value === null || value === undefined || (Array.isArray(value) && !value.length)) continue;
    probe.append(h('dt', {}, PROBE_LABELS[key] || key.replaceAll('_', ' ')), h('dd', {}, probeValue(key, value)));
  }
  body.append(h('div', { class: 'side-by-side' },
    h('section', { class: 'card', 'aria-label': 'Output' }, h('h2', {}, artifact ? artifact.name : 'Output'),
      artifact ? player(artifact) : h('p', {}, 'The output file is missing.'),
      artifact ? h('div', { class: 'actions' }, h('a', { class: 'button primary', href: artifact.url, download: artifact.name },
        `Download ${artifact.name} (${bytes(artifact.size)})`)) : null),
    h('section', { class: 'card', 'aria-label': 'About the output' }, h('h2', {}, 'About the output'), probe)));
}

export default function draw(view, [jobId]) {
  if (jobId) return jobPage(view, jobId, { drawResult });
  drawForm(view);
  return null;
}
