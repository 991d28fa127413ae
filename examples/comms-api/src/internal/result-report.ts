/** A result as agents post it and as the command manager's `POST /_plugins/_command_manager/results` takes it. */
export interface ResultReport {
  /** The order's document id (`<request_id>-<order_id>`). */
  id: string;
  status: 'success' | 'failure';
  result: { code: number; message: string; data?: Record<string, unknown> };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Checks `{"results": [...]}` (or one report) and returns the reports, or the problems, each named by JSON
 * pointer. The command manager checks again; this keeps one agent's bad report out of a shared bulk call.
 */
export function parseResultReports(body: unknown): { reports: ResultReport[] } | { problems: string[] } {
  const list =
    isRecord(body) && Array.isArray(body.results) ? body.results : isRecord(body) ? [body] : undefined;
  if (!list) return { problems: ['/: must be {"results": [...]} or one result'] };
  if (list.length === 0) return { problems: ['/results: must not be empty'] };
  const problems: string[] = [];
  const reports: ResultReport[] = [];
  list.forEach((r: unknown, i) => {
    const at = isRecord(body) && Array.isArray(body.results) ? `/results/${i}` : '';
    if (!isRecord(r)) return problems.push(`${at}: must be an object`);
    const before = problems.length;
    if (typeof r.id !== 'string' || r.id === '') problems.push(`${at}/id: must be a non-empty string`);
    if (r.status !== 'success' && r.status !== 'failure')
      problems.push(`${at}/status: must be "success" or "failure"`);
    const result = r.result;
    if (!isRecord(result)) problems.push(`${at}/result: must be an object`);
    else {
      if (!Number.isInteger(result.code)) problems.push(`${at}/result/code: must be an integer`);
      if (typeof result.message !== 'string') problems.push(`${at}/result/message: must be a string`);
      if (result.data !== undefined && !isRecord(result.data))
        problems.push(`${at}/result/data: must be an object`);
    }
    if (problems.length === before) {
      const res = result as { code: number; message: string; data?: Record<string, unknown> };
      reports.push({
        id: r.id as string,
        status: r.status as ResultReport['status'],
        result: {
          code: res.code,
          message: res.message,
          ...(res.data !== undefined ? { data: res.data } : {}),
        },
      });
    }
  });
  return problems.length > 0 ? { problems } : { reports };
}
