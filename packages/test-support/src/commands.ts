/**
 * The command request tests start from: restart agent `001`, from `Users/Services` as `alice`, with the
 * timeout given (it satisfies core's `CommandRequest`; a test spreads its changes over it).
 */
export function restartCommand(timeout: number): {
  source: 'Users/Services';
  user: string;
  target: { type: 'agent'; id: string };
  action: { name: string; args: Record<string, unknown> };
  timeout: number;
} {
  return {
    source: 'Users/Services',
    user: 'alice',
    target: { type: 'agent', id: '001' },
    action: { name: 'restart', args: {} },
    timeout,
  };
}
