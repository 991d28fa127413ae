/** `command-manager new-token`: prints a new API token and the sha256 to put in the users file. */
import { generateApiToken, hashApiToken } from '@command-manager/express';
import { ExitCodes } from './exit-codes';

export const NEW_TOKEN_USAGE = `  new-token                     print a new API token and the sha256 to put in the users file`;

export function newTokenCommand(): number {
  const token = generateApiToken();
  console.log(JSON.stringify({ token, token_sha256: hashApiToken(token) }));
  return ExitCodes.OK;
}
