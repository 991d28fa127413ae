/**
 * What the orders index can hold in a caller-defined payload (`command.action.args`, `command.result.data`).
 * Both are mapped `flat_object` (see the OpenSearch adapter's mappings): every leaf is indexed as a keyword
 * term of its value (`._value`) and of its dotted path with the value (`._valueAndPath`). Lucene refuses a
 * term over 32,766 UTF-8 bytes ("immense term"), which fails the whole document. A leaf (its dotted path
 * within the payload plus its value) is bounded at half of that, leaving room for the field's own path and
 * separators. The mapping is kept (rather than `enabled: false`, stored but not indexed) so that dashboards
 * can still filter on payloads.
 */

/** Largest leaf of a payload: UTF-8 bytes of its dotted path plus its value. */
export const PAYLOAD_LEAF_MAX_BYTES = 16_384;

export interface OversizedLeaf {
  /** Dotted path of the leaf within the payload (`''` for a payload that is itself a scalar). */
  path: string;
  /** The keys down to the leaf, for a JSON Pointer (array items share their array's path, as in the index). */
  keys: string[];
  /** UTF-8 bytes of the path plus the value. */
  bytes: number;
}

/** The first leaf of `payload` over PAYLOAD_LEAF_MAX_BYTES, or undefined when every leaf fits. */
export function oversizedLeaf(payload: unknown): OversizedLeaf | undefined {
  // Iterative walk: the body's nesting is bounded elsewhere, but a stack of our own never overflows.
  const stack: Array<{ keys: string[]; value: unknown }> = [{ keys: [], value: payload }];
  while (stack.length > 0) {
    const { keys, value } = stack.pop() as { keys: string[]; value: unknown };
    if (Array.isArray(value)) {
      // flat_object flattens arrays: their items share the array's path.
      for (const item of value) stack.push({ keys, value: item });
    } else if (value !== null && typeof value === 'object') {
      for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
        stack.push({ keys: [...keys, key], value: child });
      }
    } else {
      const path = keys.join('.');
      const bytes = Buffer.byteLength(path) + Buffer.byteLength(String(value));
      if (bytes > PAYLOAD_LEAF_MAX_BYTES) return { path, keys, bytes };
    }
  }
  return undefined;
}
