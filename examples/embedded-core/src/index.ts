export { contentManager, runEmbeddedExample } from './embedded-core';
export type { EmbeddedExampleResult } from './embedded-core';
