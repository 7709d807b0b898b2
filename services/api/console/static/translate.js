// Translate: language pairs from the live catalog, text in, the translation beside it.
import { api, explain } from './api.js';
import { field, h, messageBox, wordCount } from './dom.js';
import { jobPage, submitJob } from './job.js';

const NAMES = new Intl.DisplayNames(['en'], { type: 'language' });
const languageName = (code) => { try { return `${NAMES.of(code)} (${code})`; } catch { return code; } };

/** Copy ``text`` to the clipboard and say so on ``button``. */
export async function copy(text, button) {
  try {
    await navigator.clipboard.writeText(text);
    button.textContent = 'Copied';
  } catch {
    button.textContent = 'Copy failed: select the text instead';
  }
  setTimeout(() => { button.textContent = 'Copy translation'; }, 2000);
}

function drawForm(view) {
  const message = messageBox();
  const source = h('select', { name: 'source_lang', required: true });
  const target = h('select', { name: 'target_lang', required: true });
  const text = h('textarea', { name: 'text', rows: 10, required: true, placeholder: 'Type or paste the text to translate' });
  const count = h('small', { class: 'hint', 'aria-live': 'polite' }, '0 words');
  const button = h('button', { type: 'submit', class: 'primary' }, 'Translate');
  const form = h('form', { class: 'card' },
    h('h1', {}, 'Translate text'), message,
    h('div', { class: 'row' }, field('From', source), field('To', target, 'Pairs marked "via" go through a pivot language.')),
    field('Text', text), count, h('div', {}, button));
  view.replaceChildren(form);
  let pairs = [];
  const fillTargets = () => {
    const keep = target.value;
    target.replaceChildren(...pairs.filter((p) => p.source === source.value).map((p) => h('option', { value: p.target },
      p.via.length ? `${languageName(p.target)} — via ${p.via.map(languageName).join(', ')}` : languageName(p.target))));
    if ([...target.options].some((o) => o.value === keep)) target.value = keep;
  };
  api('/api/v1/languages').then((catalog) => {
    pairs = catalog.pairs;
    if (!pairs.length) { message.show('No translation engine is running right now; try again later.'); return; }
    const sources = [...new Set(pairs.map((p) => p.source))].sort();
    source.replaceChildren(...sources.map((code) => h('option', { value: code }, languageName(code))));
    source.value = sources.includes('en') ? 'en' : sources[0];
    fillTargets();
  }).catch((error) => message.show(explain(error)));
  source.addEventListener('change', fillTargets);
  text.addEventListener('input', () => { count.textContent = `${wordCount(text.value)} words`; });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    submitJob('translate', { method: 'POST', json: { text: text.value, source_lang: source.value, target_lang: target.value } },
      message, button);
  });
  text.focus();
}

function drawResult(body, job, result) {
  const translated = result.translated_text || '';
  const original = job.params.text || '';
  const copyButton = h('button', { type: 'button', onclick: () => copy(translated, copyButton) }, 'Copy translation');
  body.append(h('div', { class: 'side-by-side' },
    h('section', { class: 'card', 'aria-label': 'Original' },
      h('h2', {}, languageName(job.params.source_lang === 'auto' && result.detected_language ? result.detected_language.language || result.detected_language : job.params.source_lang)),
      h('p', { class: 'text' }, original), h('p', { class: 'muted' }, `${wordCount(original)} words`)),
    h('section', { class: 'card', 'aria-label': 'Translation' },
      h('h2', {}, languageName(job.params.target_lang)),
      h('p', { class: 'text', id: 'translation' }, translated),
      h('p', { class: 'muted' }, `${wordCount(translated)} words`),
      h('div', { class: 'actions' }, copyButton,
        h('a', { class: 'button', href: `/api/v1/jobs/${job.id}/export?format=txt`, download: '' }, 'Download as text')))),
  h('p', {}, h('a', { href: '#/translate' }, 'Translate something else')));
}

export default function draw(view, [jobId]) {
  if (jobId) return jobPage(view, jobId, { drawResult });
  drawForm(view);
  return null;
}
