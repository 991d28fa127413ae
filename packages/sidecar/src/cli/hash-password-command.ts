/** `command-manager hash-password`: reads a password on stdin and prints its scrypt hash for the users file. */
import { ExitCodes } from './exit-codes';

export const HASH_PASSWORD_USAGE = `  hash-password                 read a password on stdin, print its scrypt hash for the users file`;

async function readStdin(): Promise<string> {
  let data = '';
  for await (const chunk of process.stdin) data += String(chunk);
  return data.replace(/\r?\n$/, '');
}

export async function hashPasswordCommand(): Promise<number> {
  const { hashPassword } = await import('@command-manager/express');
  console.log(await hashPassword(await readStdin()));
  return ExitCodes.OK;
}
