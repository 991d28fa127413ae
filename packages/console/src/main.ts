/**
 * The console's entry: a hash router (`#/requests`, `#/requests/<id>`, `#/audit`) over the views, and the
 * sign-in gate. Everything is read through the API with the caller's credentials; nothing is rendered as HTML.
 */
import { ApiError, storeAuthorization, storedAuthorization } from './api.js';
import { renderAudit } from './audit-view.js';
import { renderLogin } from './login-view.js';
import { renderRequest } from './request-view.js';
import { renderRequests } from './requests-view.js';

const app = document.getElementById('app') as HTMLElement;
const logout = document.getElementById('logout') as HTMLButtonElement;
const nav = document.getElementById('nav') as HTMLElement;
let leave: (() => void) | undefined;

function route(): void {
  leave?.();
  leave = undefined;
  if (storedAuthorization() === undefined) {
    logout.hidden = true;
    nav.hidden = true;
    renderLogin(app, route);
    return;
  }
  logout.hidden = false;
  nav.hidden = false;
  const hash = location.hash.replace(/^#/, '') || '/requests';
  const [path = '', query = ''] = hash.split('?');
  const one = /^\/requests\/(\d+)$/.exec(path);
  if (one?.[1]) leave = renderRequest(app, Number(one[1]));
  else if (path === '/audit') leave = renderAudit(app, new URLSearchParams(query));
  else leave = renderRequests(app, new URLSearchParams(query));
}

logout.addEventListener('click', () => {
  storeAuthorization(undefined);
  location.hash = '#/requests';
  route();
});
window.addEventListener('hashchange', route);
// A 401 anywhere (expired token, revoked user): back to the sign-in form.
window.addEventListener('unhandledrejection', (e) => {
  if (e.reason instanceof ApiError && e.reason.status === 401) {
    storeAuthorization(undefined);
    route();
  }
});
route();
