/** `node -r ts-node/register/transpile-only -r <this>`: workspace packages resolve to their source. */
import { registerWorkspaceResolver } from './register-workspace';

registerWorkspaceResolver('src');
