import { randomBytes } from 'node:crypto';
import path from 'node:path';

/**
 * The OpenSearch URL of this test run. Integration tests call it instead of skipping: a run without
 * OpenSearch must fail, not pass.
 */
export function opensearchUrl(): string {
  const url = process.env.OPENSEARCH_URL;
  if (!url)
    throw new Error('OPENSEARCH_URL is not set: integration tests need the jest global setup or a node');
  return url;
}

/** A per-file, per-run index prefix (lower case, as OpenSearch requires), e.g. `t-harness-1a2b3c-`. */
export function testIndexPrefix(file: string): string {
  const base = path
    .basename(file)
    .replace(/\.(int\.)?test\.ts$/, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-');
  return `t-${base}-${randomBytes(3).toString('hex')}-`;
}
