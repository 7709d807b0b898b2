// Log in and register: the two forms a person meets first.
import { explain, logIn, register } from './api.js';
import { field, h, messageBox } from './dom.js';

/** Draw the login (or register) form in ``view``; ``done(user)`` once signed in. */
export default function draw(view, mode, done) {
  const message = messageBox();
  const username = h('input', { name: 'username', autocomplete: 'username', required: true });
  const email = h('input', { name: 'email', type: 'email', autocomplete: 'email', required: true });
  const password = h('input', {
    name: 'password', type: 'password', required: true,
    autocomplete: mode === 'register' ? 'new-password' : 'current-password',
  });
  const registering = mode === 'register';
  const form = h('form', { class: 'card narrow' },
    h('h1', {}, registering ? 'Create an account' : 'Log in to Conveyor'),
    message,
    field(registering ? 'Username' : 'Username or e-mail', username),
    registering ? field('E-mail', email) : null,
    field('Password', password, registering ? 'At least 10 characters, with letters and digits.' : null),
    h('button', { type: 'submit', class: 'primary' }, registering ? 'Create account and log in' : 'Log in'),
    h('p', {}, registering
      ? h('a', { href: '#/login' }, 'I already have an account: log in')
      : h('a', { href: '#/register' }, 'No account yet? Create one')));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    message.show('');
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    try {
      if (registering) await register(username.value, email.value, password.value);
      done(await logIn(username.value, password.value));
    } catch (error) {
      message.show(explain(error));
    } finally {
      button.disabled = false;
    }
  });
  view.replaceChildren(form);
  username.focus();
}
