// Small helpers that build the page from elements (never from HTML strings: no injection).

/** An element with attributes, listeners (onclick…) and children (strings become text). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    else if (value === true) el.setAttribute(key, '');
    else el.setAttribute(key, value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

let fieldCount = 0;

/** A visible label tied to its control (the control gets an id if it has none). */
export function field(label, control, hint) {
  if (!control.id) control.id = `f${++fieldCount}`;
  const hintEl = hint ? h('small', { id: `${control.id}-hint`, class: 'hint' }, hint) : null;
  if (hintEl) control.setAttribute('aria-describedby', hintEl.id);
  return h('div', { class: 'field' }, h('label', { for: control.id }, label), control, hintEl);
}

/** A message region read out by screen readers; show(text, kind) fills it, show('') empties it. */
export function messageBox() {
  const el = h('div', { class: 'message', role: 'alert', 'aria-live': 'assertive' });
  el.hidden = true;
  el.show = (text, kind = 'error') => {
    el.textContent = text || '';
    el.className = `message ${kind}`;
    el.hidden = !text;
  };
  return el;
}

export function bytes(n) {
  if (n === null || n === undefined) return '–';
  const units = ['B', 'KB', 'MB', 'GB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

export function seconds(s) {
  if (s === null || s === undefined) return '–';
  const m = Math.floor(s / 60);
  const rest = (s - m * 60).toFixed(1).padStart(4, '0');
  return m ? `${m}:${rest}` : `${Number(s).toFixed(1)} s`;
}

export function when(iso) {
  return iso ? new Date(iso).toLocaleString() : '–';
}

export function wordCount(text) {
  return (text || '').trim().split(/\s+/).filter(Boolean).length;
}

/** A file chooser that also takes a file dropped on it; onFile(file) is called with the choice. */
export function dropZone(label, accept, onFile) {
  const input = h('input', { type: 'file', accept, class: 'visually-hidden' });
  const name = h('span', { class: 'file-name' }, 'No file chosen');
  const zone = h('label', { class: 'drop', for: '' },
    h('strong', {}, label), h('span', {}, 'Drop a file here, or '),
    h('span', { class: 'button-like' }, 'Choose a file…'), name, input);
  input.id = `f${++fieldCount}`;
  zone.setAttribute('for', input.id);
  const take = (file) => {
    if (!file) return;
    name.textContent = `${file.name} (${bytes(file.size)})`;
    onFile(file);
  };
  input.addEventListener('change', () => take(input.files[0]));
  zone.addEventListener('dragover', (e) => { e.preventDefault(); zone.classList.add('over'); });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    take(e.dataTransfer.files[0]);
  });
  zone.input = input;
  return zone;
}
