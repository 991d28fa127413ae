/** Imported first by benchmarks: workspace packages resolve to their built `dist` (run `pnpm build` first). */
import { registerWorkspaceResolver } from './register-workspace';

registerWorkspaceResolver('dist');
