export { runE2e } from './e2e';
export type { E2eOptions, E2eProgress, E2eReport } from './e2e';
export { renderProgressLine } from './progress-line';
