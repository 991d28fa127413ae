export { agentId, runAgents } from './agents';
export type { AgentsOptions, AgentsReport } from './agents';
