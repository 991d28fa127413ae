import { createRequire } from 'node:module';

/**
 * ajv is a dependency of core, not of this package (pnpm does not hoist it here). Tests borrow core's copy
 * by resolving from core's own entry point, which jest maps to packages/core/src.
 */
interface AjvLike {
  addSchema(schema: unknown, key?: string): AjvLike;
  addFormat(name: string, format: { type: string; validate: (s: string) => boolean }): AjvLike;
  getSchema(ref: string): ((data: unknown) => boolean) & { errors?: unknown };
}

export function ajv2020(): AjvLike {
  const coreRequire = createRequire(require.resolve('@command-manager/core'));
  const mod = coreRequire('ajv/dist/2020') as { default: new (options: Record<string, unknown>) => AjvLike };
  const ajv = new mod.default({ allErrors: true, strict: false, allowUnionTypes: true });
  ajv.addFormat('date-time', { type: 'string', validate: (s) => !Number.isNaN(Date.parse(s)) });
  return ajv;
}
