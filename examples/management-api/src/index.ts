export { startManagementApi, OrderErrors } from './management-api';
export type { AcceptedOrder, ManagementApiHandle, ManagementApiOptions, OrderError } from './management-api';
