/**
 * Deletes what a test file created on the shared node: every index under its prefix and the index templates
 * named. Typed by what it calls, so the package needs no OpenSearch client of its own.
 */
export interface CleanupClient {
  indices: {
    delete(
      params: {
        index: string;
        ignore_unavailable: boolean;
        allow_no_indices: boolean;
        expand_wildcards?: 'all';
      },
      options: { ignore: number[] },
    ): Promise<unknown>;
    deleteIndexTemplate(params: { name: string }, options: { ignore: number[] }): Promise<unknown>;
  };
}

export interface IndexCleanupOptions {
  /** Template names (or patterns) to delete after the indices. */
  templates?: Iterable<string>;
  /** Also hidden indices (`expand_wildcards: 'all'`). */
  hidden?: boolean;
}

export async function deleteTestIndices(
  client: CleanupClient,
  prefix: string,
  options: IndexCleanupOptions = {},
): Promise<void> {
  await client.indices.delete(
    {
      index: `${prefix}*`,
      ignore_unavailable: true,
      allow_no_indices: true,
      ...(options.hidden ? { expand_wildcards: 'all' as const } : {}),
    },
    { ignore: [404] },
  );
  for (const name of options.templates ?? [])
    await client.indices.deleteIndexTemplate({ name }, { ignore: [404] });
}
