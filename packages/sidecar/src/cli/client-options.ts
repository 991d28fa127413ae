/** Options every API-calling CLI command takes (see `client` in main.ts). */
export const CLIENT_OPTIONS = {
  url: { type: 'string' },
  token: { type: 'string' },
  basic: { type: 'string' },
  json: { type: 'boolean', default: false },
} as const;
