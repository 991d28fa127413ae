/**
 * Reads `--name value` / `--name=value` from argv, else the environment variable, else undefined.
 * Enough for an example; a product CLI would validate and list every unknown flag.
 */
export function option(argv: readonly string[], name: string, env: string): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === `--${name}`) return argv[i + 1];
    if (arg?.startsWith(`--${name}=`)) return arg.slice(name.length + 3);
  }
  const value = process.env[env];
  return value === undefined || value === '' ? undefined : value;
}

export function numberOption(argv: readonly string[], name: string, env: string, fallback: number): number {
  const raw = option(argv, name, env);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value)) throw new Error(`--${name} (${env}) must be a number, got "${raw}"`);
  return value;
}
