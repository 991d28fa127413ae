export { startCommsApi } from './comms-api';
export type {
  CommandManagerTarget,
  CommsApiHandle,
  CommsApiOptions,
  CommsApiStats,
  ForwarderStats,
  QueuedOrder,
  ResultReport,
} from './comms-api';
