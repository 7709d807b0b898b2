// Images: a picture in, the objects found drawn over it, its class scores and a table.
import { api, explain } from './api.js';
import { dropZone, field, h, messageBox } from './dom.js';
import { jobPage, submitJob } from './job.js';

const percent = (p) => `${Math.round(p * 100)} %`;

function drawForm(view) {
  const message = messageBox();
  let file = null;
  const zone = dropZone('Picture (JPEG, PNG, WebP…)', 'image/*', (chosen) => { file = chosen; });
  const detection = h('select', { name: 'detection_model_id' }, h('option', { value: '' }, 'Default'));
  const classification = h('select', { name: 'classification_model_id' }, h('option', { value: '' }, 'Default'));
  const threshold = h('input', { name: 'score_threshold', type: 'number', min: 0, max: 1, step: 0.05, placeholder: 'default' });
  const button = h('button', { type: 'submit', class: 'primary' }, 'Analyse picture');
  const form = h('form', { class: 'card' }, h('h1', {}, 'Find objects in a picture'), message, zone,
    h('div', { class: 'row' }, field('Detection model', detection), field('Classification model', classification),
      field('Minimum score (0–1)', threshold)), h('div', {}, button));
  view.replaceChildren(form);
  api('/api/v1/models').then((catalog) => {
    for (const entry of catalog.vision || []) {
      const target = entry.kind === 'detection' ? detection : classification;
      target.append(h('option', { value: entry.id }, entry.title || entry.name));
    }
  }).catch((error) => message.show(explain(error)));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (!file) { message.show('Choose or drop a picture first.'); return; }
    const body = new FormData();
    body.append('file', file);
    if (detection.value) body.append('detection_model_id', detection.value);
    if (classification.value) body.append('classification_model_id', classification.value);
    if (threshold.value) body.append('score_threshold', threshold.value);
    submitJob('vision', { method: 'POST', form: body }, message, button);
  });
}

function drawResult(body, job, result) {
  const detections = result.detections || [];
  const figure = h('div', { class: 'figure' },
    h('img', { src: `/api/v1/jobs/${job.id}/input`, alt: `The picture, ${detections.length} objects outlined` }));
  const boxes = detections.map((d) => {
    const box = h('div', { class: 'box', title: `${d.label}: ${percent(d.probability)}`, 'data-label': d.label },
      h('span', {}, `${d.label} ${percent(d.probability)}`));
    Object.assign(box.style, {
      // x and y are the box's centre, all four are fractions of the picture's width and height.
      left: `${(d.x - d.width / 2) * 100}%`, top: `${(d.y - d.height / 2) * 100}%`,
      width: `${d.width * 100}%`, height: `${d.height * 100}%`,
    });
    figure.append(box);
    return box;
  });
  const labels = [...new Set(detections.map((d) => d.label))];
  const toggles = h('fieldset', { class: 'toggles' }, h('legend', {}, 'Show boxes for'),
    ...labels.map((label) => {
      const box = h('input', { type: 'checkbox', checked: true, name: `show-${label}` });
      box.addEventListener('change', () => {
        for (const b of boxes) if (b.dataset.label === label) b.classList.toggle('hidden', !box.checked);
      });
      return h('label', {}, box, ` ${label} (${detections.filter((d) => d.label === label).length})`);
    }));
  const scores = (result.class_scores || []).slice(0, 5);
  body.append(h('div', { class: 'image-layout' },
    h('section', { class: 'card', 'aria-label': 'Picture' }, figure, labels.length ? toggles : h('p', {}, 'No objects found.')),
    h('div', {},
      h('section', { class: 'card', 'aria-label': 'What the picture shows' },
        h('h2', {}, result.image_class ? `Looks like: ${result.image_class}` : 'Class scores'),
        h('ol', { class: 'scores' }, ...scores.map((s) => h('li', {}, h('span', {}, s.label),
          h('span', {}, percent(s.probability !== undefined ? s.probability : s.score)))))),
      h('section', { class: 'card', 'aria-label': 'Detections' }, h('h2', {}, 'Objects found'),
        h('div', { class: 'table-wrap' }, h('table', {},
          h('thead', {}, h('tr', {}, ...['Label', 'Score', 'Centre x', 'Centre y', 'Width', 'Height'].map((t) => h('th', { scope: 'col' }, t)))),
          h('tbody', {}, ...detections.map((d) => h('tr', {}, h('td', {}, d.label), h('td', {}, percent(d.probability)),
            ...[d.x, d.y, d.width, d.height].map((v) => h('td', {}, v.toFixed(3)))))))),
        h('div', { class: 'actions' },
          h('a', { class: 'button', href: `/api/v1/jobs/${job.id}/export?format=csv`, download: '' }, 'Download CSV'),
          h('a', { class: 'button', href: `/api/v1/jobs/${job.id}/export?format=json`, download: '' }, 'Download JSON'))))));
}

export default function draw(view, [jobId]) {
  if (jobId) return jobPage(view, jobId, { drawResult });
  drawForm(view);
  return null;
}
