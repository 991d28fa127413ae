/**
 * `command-manager serve`: runs the sidecar (API + scheduler) until SIGTERM/SIGINT. With no OpenSearch
 * configured it is the quick start: it starts a local node (scripts/opensearch) and, without a users file,
 * writes an admin token for the CLI (see `dev-mode.ts`); that node stops with the process.
 */
import { parseArgs } from 'node:util';
import { ErrorCodes, isCommandManagerError, type CommandManagerError } from '@command-manager/core';
import { startLocalOpenSearch, stopLocalOpenSearch } from '@command-manager/local-opensearch';
import { loadConfig, redactedConfig } from '../config/load-config';
import type { SidecarConfig } from '../config/sidecar-config';
import { createLogger, redactUrl } from '../logging';
import { startSidecar, type RunningSidecar } from '../sidecar';
import { DEV_TOKEN_FILE, LOCAL_NODE_HOME, devUsersFile } from './dev-mode';
import { ExitCodes } from './exit-codes';

export const SERVE_USAGE = `  serve                         run the sidecar (API + scheduler); --config <file.json>`;

function isConfigError(e: unknown): e is CommandManagerError {
  return isCommandManagerError(e, ErrorCodes.CONFIG_INVALID);
}

/** Names every bad key (the errors never carry a secret's value: see loadConfig and parseUsersFile). */
function reportConfigError(e: CommandManagerError): number {
  const details = e.details.length > 0 ? e.details : [{ pointer: '', message: e.message }];
  console.error(
    `invalid configuration: ${e.message}\n${details.map((d) => `  ${d.pointer || '(file)'}: ${d.message}`).join('\n')}`,
  );
  return ExitCodes.CONFIG;
}

export async function serveCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { config: { type: 'string' } }, strict: true });
  let config: SidecarConfig;
  try {
    config = loadConfig(values.config !== undefined ? { file: values.config } : {});
  } catch (e) {
    if (isConfigError(e)) return reportConfigError(e);
    throw e;
  }
  const logger = createLogger({ level: config.log.level });
  let opensearchUrl = config.opensearch.url;
  const localNode = { homeDir: LOCAL_NODE_HOME };
  let startedLocalNode = false;
  if (opensearchUrl === undefined) {
    logger.info('OPENSEARCH_URL is not set: starting a local OpenSearch (scripts/opensearch)');
    opensearchUrl = await startLocalOpenSearch(localNode);
    startedLocalNode = true;
    if (config.auth?.usersFile === undefined) {
      const usersFile = devUsersFile();
      config = { ...config, auth: { ...config.auth, usersFile } };
      logger.info('development mode: an admin API token was written for the CLI', {
        tokenFile: DEV_TOKEN_FILE,
      });
    }
  }
  logger.info('configuration', { config: redactedConfig(config), opensearch: redactUrl(opensearchUrl) });
  let sidecar: RunningSidecar;
  try {
    sidecar = await startSidecar(config, opensearchUrl, logger);
  } catch (e) {
    // The quick start's node goes with the process that started it, a failed start included.
    if (startedLocalNode) await stopLocalOpenSearch(localNode).catch(() => undefined);
    // The users file and the actions file are read at start: their errors are configuration errors too.
    if (isConfigError(e)) return reportConfigError(e);
    throw e;
  }
  console.error(`command manager listening on ${sidecar.url}`);

  await new Promise<void>((resolve) => {
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals): void => {
      signals += 1;
      if (signals > 1) {
        logger.warn('second signal: forcing exit', { signal });
        process.exit(130);
      }
      logger.info('stopping: no new work; in-flight work finishes or is released', { signal });
      const force = setTimeout(() => {
        logger.error('shutdown bound exceeded: forcing exit');
        process.exit(1);
      }, config.scheduler.shutdownTimeoutMs + 5_000);
      force.unref();
      void sidecar
        .stop()
        .then(async () => {
          // The quick start's node goes with the process that started it.
          if (startedLocalNode) await stopLocalOpenSearch(localNode);
        })
        .then(resolve);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  return ExitCodes.OK;
}
