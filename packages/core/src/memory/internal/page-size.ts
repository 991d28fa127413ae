import { CommandManagerError, ErrorCodes } from '../../errors';

/** Checks a page size: a positive integer. */
export function checkPageSize(size: number): void {
  if (!Number.isInteger(size) || size < 1) {
    throw new CommandManagerError(ErrorCodes.VALIDATION_FAILED, 'Invalid page size', {
      details: [{ pointer: '/size', message: 'must be a positive integer' }],
    });
  }
}
