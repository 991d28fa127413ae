import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import express, { type RequestHandler } from 'express';
import request from 'supertest';
import { CONSOLE_CSP, registerConsoleRoutes } from '../src/internal/console-routes';

let root: string;
const app = express();
const route = (): RequestHandler => (_req, _res, next) => next();

beforeAll(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'cm-console-'));
  mkdirSync(path.join(root, 'static'));
  mkdirSync(path.join(root, 'dist'));
  writeFileSync(path.join(root, 'static', 'index.html'), '<!doctype html><title>c</title>');
  writeFileSync(path.join(root, 'static', 'console.css'), 'body{}');
  writeFileSync(path.join(root, 'dist', 'main.js'), 'export {};');
  writeFileSync(path.join(root, 'dist', 'main.d.ts'), 'export {};');
  writeFileSync(path.join(root, 'dist', '.tsbuildinfo'), '{}');
  registerConsoleRoutes(app, root, route);
  app.use((_req, res) => res.status(404).end());
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('the console routes', () => {
  it('redirect /console to /console/ and serve the page with a Content-Security-Policy', async () => {
    const bare = await request(app).get('/console');
    expect(bare.status).toBe(301);
    expect(bare.headers.location).toBe('/console/');
    const page = await request(app).get('/console/');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.headers['content-security-policy']).toBe(CONSOLE_CSP);
    expect(CONSOLE_CSP).not.toMatch(/unsafe-(inline|eval)/);
    expect(page.headers['x-frame-options']).toBe('DENY');
  });

  it('serve the styles and the compiled modules, and nothing else of the build directory', async () => {
    expect((await request(app).get('/console/console.css')).status).toBe(200);
    const script = await request(app).get('/console/main.js');
    expect(script.status).toBe(200);
    expect(script.headers['content-type']).toMatch(/javascript/);
    expect(script.headers['content-security-policy']).toBe(CONSOLE_CSP);
    for (const p of [
      '/console/main.d.ts',
      '/console/.tsbuildinfo',
      '/console/../package.json',
      '/console/nope.js',
    ]) {
      expect((await request(app).get(p)).status).toBe(404);
    }
  });
});
