import type { CommandManagerApi, Principal, SubmitOptions, SubmitResult } from '@command-manager/core';

/** A CommandManagerApi whose every operation fails with a given error, to test the error mapping. */
export function failingApi(error: unknown): CommandManagerApi {
  const fail = (): Promise<never> => Promise.reject(error);
  return {
    submit: fail,
    planSubmission: fail,
    getRequest: fail,
    listRequests: fail,
    getOrder: fail,
    listOrders: fail,
    reportResults: fail,
    cancel: fail,
  };
}

/** Answers `submit` with a fixed result and records what it was called with. */
export function fixedSubmitApi(result: SubmitResult): CommandManagerApi & {
  calls: Array<{ body: unknown; principal: Principal; options: SubmitOptions | undefined }>;
} {
  const calls: Array<{ body: unknown; principal: Principal; options: SubmitOptions | undefined }> = [];
  const unused = (): Promise<never> => Promise.reject(new Error('not used'));
  return {
    calls,
    submit: (body, principal, options) => {
      calls.push({ body, principal, options });
      return Promise.resolve(result);
    },
    planSubmission: unused,
    getRequest: unused,
    listRequests: unused,
    getOrder: unused,
    listOrders: unused,
    reportResults: unused,
    cancel: unused,
  };
}
