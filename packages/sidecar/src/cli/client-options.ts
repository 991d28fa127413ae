/** Options every API-calling CLI command takes (read by `cliClient`). */
export const CLIENT_OPTIONS = {
  url: { type: 'string' },
  token: { type: 'string' },
  basic: { type: 'string' },
  json: { type: 'boolean', default: false },
} as const;
