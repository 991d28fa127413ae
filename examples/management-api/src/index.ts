export { startManagementApi, OrderErrors } from './management-api';
export type { AcceptedOrder, ManagementApiHandle, ManagementApiOptions, OrderError } from './management-api';
export { startPullConsumer } from './pull-consumer';
export type { PullConsumerHandle, PullConsumerOptions } from './pull-consumer';
