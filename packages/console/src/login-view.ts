import { API, ApiError, authorizationOf, call, storeAuthorization } from './api.js';
import { h, mount } from './dom.js';

/**
 * The login form: an API token (Bearer) or a user and password (Basic), as the API accepts. The credentials
 * are checked with one authenticated call before they are kept (sessionStorage, this tab only): a 401
 * refuses them; a 403 (known, but without the `read` operation) keeps them and opens the audit trail.
 */
export function renderLogin(root: Element, onLoggedIn: () => void, notice?: string): void {
  const kind = h(
    'select',
    { name: 'kind', id: 'login-kind' },
    h('option', { value: 'token' }, 'API token'),
    h('option', { value: 'basic' }, 'User and password'),
  );
  const token = h('input', { name: 'token', id: 'login-token', type: 'password', autocomplete: 'off' });
  const username = h('input', { name: 'username', id: 'login-username', autocomplete: 'username' });
  const password = h('input', {
    name: 'password',
    id: 'login-password',
    type: 'password',
    autocomplete: 'current-password',
  });
  const tokenField = h('label', {}, 'Token', token);
  const basicFields = h('div', {}, h('label', {}, 'User', username), h('label', {}, 'Password', password));
  const message = h('p', { class: 'error', id: 'login-error' }, notice ?? '');
  const sync = (): void => {
    tokenField.hidden = kind.value !== 'token';
    basicFields.hidden = kind.value !== 'basic';
  };
  kind.addEventListener('change', sync);
  sync();
  const form = h(
    'form',
    { class: 'login', id: 'login' },
    h('label', {}, 'Sign in with', kind),
    tokenField,
    basicFields,
    h('button', { type: 'submit', class: 'primary' }, 'Sign in'),
    message,
    h(
      'p',
      { class: 'muted' },
      'The credentials are kept in this tab only (sessionStorage) until you log out or close it.',
    ),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const authorization = authorizationOf(
      kind.value === 'token'
        ? { kind: 'token', token: token.value }
        : { kind: 'basic', username: username.value, password: password.value },
    );
    storeAuthorization(authorization);
    message.textContent = '';
    call(`GET`, `${API}/requests?size=1`).then(
      () => onLoggedIn(),
      (err: unknown) => {
        // Known, but not allowed to read requests (an auditor, say): signed in, on the audit trail, which
        // says so itself when that is refused too.
        if (err instanceof ApiError && err.status === 403) {
          // A change of address routes by itself (`hashchange`).
          if (/^#\/audit(\?|$)/.test(location.hash)) onLoggedIn();
          else location.hash = '#/audit';
          return;
        }
        storeAuthorization(undefined);
        message.textContent =
          err instanceof ApiError && err.status === 401
            ? 'Those credentials were refused.'
            : `Sign-in failed: ${err instanceof Error ? err.message : String(err)}`;
      },
    );
  });
  mount(root, h('section', {}, h('h1', {}, 'Sign in'), form));
}
