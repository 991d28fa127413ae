/**
 * Throw-away TLS certificates made with the openssl CLI, in a folder of the caller's: certificate
 * authorities, leaf certificates they sign, and self-signed certificates. Each `<name>` is written as
 * `<name>.key` and `<name>.crt`.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface PkiBuilder {
  readonly dir: string;
  /** A certificate authority `<name>` (CN = name). */
  ca(name: string): void;
  /** A certificate `<name>` for `cn`, signed by the authority `caName`, with `subjectAltName` when given. */
  leaf(name: string, cn: string, caName: string, subjectAltName?: string): void;
  /** A self-signed certificate `<name>` for `cn`, with `subjectAltName` when given. */
  selfSigned(name: string, cn: string, subjectAltName?: string): void;
  /** The path of a file the builder wrote. */
  file(file: string): string;
  read(file: string): Buffer;
}

export function pkiBuilder(dir: string, options: { days?: number } = {}): PkiBuilder {
  const days = String(options.days ?? 2);
  const ssl = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  };
  const newKey = ['-newkey', 'rsa:2048', '-nodes'];
  const selfSigned = (name: string, cn: string, subjectAltName?: string): void =>
    ssl(
      'req',
      '-x509',
      ...newKey,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.crt`,
      '-days',
      days,
      '-subj',
      `/CN=${cn}`,
      ...(subjectAltName !== undefined ? ['-addext', `subjectAltName=${subjectAltName}`] : []),
    );
  return {
    dir,
    // A certificate authority is a self-signed certificate that signs others.
    ca: (name) => selfSigned(name, name),
    leaf: (name, cn, caName, subjectAltName) => {
      ssl('req', ...newKey, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`);
      const ext: string[] = [];
      if (subjectAltName !== undefined) {
        writeFileSync(path.join(dir, `${name}.ext`), `subjectAltName=${subjectAltName}\n`);
        ext.push('-extfile', `${name}.ext`);
      }
      ssl(
        'x509',
        '-req',
        '-in',
        `${name}.csr`,
        '-CA',
        `${caName}.crt`,
        '-CAkey',
        `${caName}.key`,
        '-CAcreateserial',
        '-out',
        `${name}.crt`,
        '-days',
        days,
        ...ext,
      );
    },
    selfSigned,
    file: (file) => path.join(dir, file),
    read: (file) => readFileSync(path.join(dir, file)),
  };
}
