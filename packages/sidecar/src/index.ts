/**
 * The runnable sidecar: the `command-manager` CLI and the process that wires core, the OpenSearch adapter,
 * the HTTP adapter and the scheduler together. `main.ts` only dispatches the CLI's commands, one module each
 * in `cli/` (`serve-command.ts` runs the sidecar; with no OpenSearch configured it is the quick start, whose
 * local node comes from `@command-manager/local-opensearch`); `sidecar.ts` wires and starts the process;
 * `config/` reads and validates the settings; `logging.ts` logs with secrets redacted. The package exports
 * nothing: it is used through its CLI.
 */
export {};
