/**
 * What a principal may do: submit commands (sources, actions, acting for another user) and cancel requests
 * (its own, or any with `canCancelAny`). Every refusal is FORBIDDEN with the fields at fault.
 */
import { CommandManagerError, ErrorCodes } from './errors';
import type { ErrorDetail } from './errors';
import type { CommandRequest, RequestRecord } from './model';
import type { Principal } from './service-types';

/** FORBIDDEN, naming every field the principal may not set. */
export function authorise(commands: readonly CommandRequest[], principal: Principal): void {
  const details: ErrorDetail[] = [];
  commands.forEach((c, i) => {
    if (principal.sources !== '*' && !principal.sources.includes(c.source)) {
      details.push({
        pointer: `/commands/${i}/source`,
        message: `${principal.name} may not send commands as "${c.source}"`,
      });
    }
    if (principal.actions !== '*' && !principal.actions.includes(c.action.name)) {
      details.push({
        pointer: `/commands/${i}/action/name`,
        message: `${principal.name} may not send action "${c.action.name}"`,
      });
    }
    if (!principal.canDelegate && c.user !== principal.name) {
      details.push({
        pointer: `/commands/${i}/user`,
        message: `must be "${principal.name}": this principal may not act for another user`,
      });
    }
  });
  if (details.length > 0) {
    throw new CommandManagerError(ErrorCodes.FORBIDDEN, `${principal.name} may not submit this request`, {
      details,
    });
  }
}

/** Only the request's own principal, or one granted `canCancelAny`, may cancel it. */
export function authoriseCancel(request: RequestRecord, principal: Principal): void {
  if (request.principal === principal.name || principal.canCancelAny === true) return;
  throw new CommandManagerError(
    ErrorCodes.FORBIDDEN,
    `request ${request.request_id} belongs to another principal`,
    {
      details: [
        {
          pointer: '/request_id',
          message: 'may be cancelled only by its submitter or a principal granted cancel-any',
        },
      ],
    },
  );
}
