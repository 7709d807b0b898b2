// The console's frame: who is signed in, the navigation, and which view the URL fragment names.
import { api, hasSession, logOut } from './api.js';
import { h } from './dom.js';

const SECTIONS = [
  ['translate', 'Translate', () => import('./translate.js')],
  ['speech', 'Speech to text', () => import('./speech.js')],
  ['images', 'Images', () => import('./images.js')],
  ['convert', 'Convert', () => import('./convert.js')],
  ['pipelines', 'Pipelines', () => import('./pipelines.js')],
  ['jobs', 'Jobs', () => import('./jobs.js')],
  ['account', 'Account', () => import('./account.js')],
  ['admin', 'Admin', () => import('./admin.js')],
];

export const state = { user: null };
let stopCurrent = null;

/** Leave the current view: its live streams and timers stop. */
function leaveView() {
  if (stopCurrent) stopCurrent();
  stopCurrent = null;
}

function drawNav(section) {
  const nav = document.getElementById('nav');
  const who = document.getElementById('who');
  nav.replaceChildren();
  who.replaceChildren();
  if (!state.user) return;
  for (const [id, label] of SECTIONS) {
    if (id === 'admin' && state.user.role !== 'admin') continue;
    nav.append(h('a', { href: `#/${id}`, 'aria-current': id === section ? 'page' : null }, label));
  }
  who.append(h('span', { class: 'muted' }, `Signed in as ${state.user.username}`),
    h('button', { type: 'button', class: 'link', onclick: signOut }, 'Log out'));
}

async function signOut() {
  leaveView();
  await logOut();
  state.user = null;
  location.hash = '#/login';
}

/** Draw the view the fragment names (#/translate, #/jobs/<id>, #/login …). */
export async function route() {
  leaveView();
  const [section = '', ...rest] = location.hash.replace(/^#\/?/, '').split('/');
  const view = document.getElementById('view');
  if (!state.user && section !== 'register') {
    if (hasSession()) {
      try { state.user = await api('/auth/v1/me'); } catch { state.user = null; }
    }
  }
  if (!state.user) {
    const { default: draw } = await import('./login.js');
    drawNav('');
    draw(view, section === 'register' ? 'register' : 'login', (user) => {
      state.user = user;
      location.hash = '#/translate';
    });
    return;
  }
  const known = SECTIONS.find(([id]) => id === section);
  if (!known) { location.hash = '#/translate'; return; }
  drawNav(section);
  const module = await known[2]();
  view.replaceChildren();
  stopCurrent = module.default(view, rest, state.user) || null;
  view.focus({ preventScroll: true });
}

window.addEventListener('hashchange', route);
route();
