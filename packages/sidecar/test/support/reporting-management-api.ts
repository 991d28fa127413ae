import { startStubManagementApi, type StubManagementApi } from './stub-management-api';

export interface ReportingManagementApi {
  url: string;
  /** Where results are reported: the sidecar's URL and a token of the `comms` role. */
  reportTo(commandManager: { url: string; token: string }): void;
  close(): Promise<void>;
}

interface Accepted {
  document_id: string;
  target: { id: string };
}

/**
 * A stand-in for Wazuh's Management API, Comms API and agents together (all outside this product): the
 * sidecar tests' stub Management API, accepting every order, whose orders' results are then reported to the
 * sidecar as the Comms API does (`POST …/results`). Agents whose id starts with `failing-` fail with code
 * 42 (`disk full`); those starting with `silent-` never answer (their orders stay `sent`); the others succeed.
 */
export async function startReportingManagementApi(): Promise<ReportingManagementApi> {
  let target: { url: string; token: string } | undefined;
  const report = async (orders: Accepted[]): Promise<void> => {
    const results = orders
      .filter((o) => !o.target.id.startsWith('silent-'))
      .map((o) =>
        o.target.id.startsWith('failing-')
          ? { id: o.document_id, status: 'failure', result: { code: 42, message: 'disk full' } }
          : { id: o.document_id, status: 'success', result: { code: 0, message: 'done' } },
      );
    if (results.length === 0 || !target) return;
    await fetch(`${target.url}/_plugins/_command_manager/results`, {
      method: 'POST',
      headers: { authorization: `Bearer ${target.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ results }),
    });
  };
  const stub: StubManagementApi = await startStubManagementApi({
    // After the answer, and a little later: the sidecar marks them sent first, as with a real Comms API.
    onAccepted: (orders) => setTimeout(() => void report(orders).catch(() => undefined), 200),
  });
  return {
    url: stub.url,
    reportTo: (commandManager) => {
      target = commandManager;
    },
    close: () => stub.close(),
  };
}
