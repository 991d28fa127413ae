import path from 'node:path';
import express, { type Express, type RequestHandler } from 'express';

/** Path prefix of the browser console. */
export const CONSOLE_PATH = '/console';

/**
 * The console's pages fetch only their own scripts and styles and call only this origin's API: no inline
 * script or style, no framing, no other origin.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** Only the compiled modules are served from the build directory (not its declarations or build info). */
const SCRIPT_NAME = /^\/[a-z][a-z0-9-]*\.js$/;

/**
 * Serves the console's static assets under `/console/`: `static/` (page, styles) and the compiled modules of
 * `dist/`, both below `root` (the console package). The assets hold no data and need no authentication; the
 * API calls they make are authenticated as any other.
 */
export function registerConsoleRoutes(
  app: Express,
  root: string,
  route: (pattern: string) => RequestHandler,
): void {
  const headers: RequestHandler = (_req, res, next) => {
    res.setHeader('Content-Security-Policy', CONSOLE_CSP);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('Cache-Control', 'no-cache');
    next();
  };
  const options = {
    index: false,
    dotfiles: 'ignore',
    etag: false,
    redirect: false,
    fallthrough: true,
  } as const;
  const pages = express.static(path.join(root, 'static'), options);
  const scripts = express.static(path.join(root, 'dist'), options);
  // Routing is not strict (`/console` also matches `/console/`): the page's relative links need the slash.
  app.get(CONSOLE_PATH, route(`${CONSOLE_PATH}/`), headers, (req, res) => {
    if (!req.originalUrl.split('?')[0]?.endsWith('/')) {
      res.redirect(301, `${CONSOLE_PATH}/`);
      return;
    }
    res.sendFile(path.join(root, 'static', 'index.html'));
  });
  app.use(CONSOLE_PATH, route(`${CONSOLE_PATH}/*`), headers, pages, (req, res, next) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    if (!SCRIPT_NAME.test(req.path)) return next();
    scripts(req, res, next);
  });
}
