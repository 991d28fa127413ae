// Shared plumbing of the example programs (see README.md): not part of the command manager.
export { numberOption, option } from './cli-args';
export { closeServer, HttpError, listen, readJson, sendJson } from './http-server';
export { requestJson } from './request-json';
export type { JsonAnswer, RequestJsonOptions } from './request-json';
export { sleep } from './sleep';
// Test support, exported here rather than from a second entry point: jest and tsconfig.test.json map only
// the bare package name to the sources. It needs nothing beyond node:http.
export { FakeCommandManager } from './testing/fake-command-manager';
export type { ResultsCall } from './testing/fake-command-manager';
