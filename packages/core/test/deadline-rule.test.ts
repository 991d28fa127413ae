import { markSent, newOrder } from '../src/lifecycle';
import { deliveryDeadline, deliveryWindowEnd, needsPresence, overdueVerdict } from '../src/deadline-rule';
import type { OverdueVerdict } from '../src/deadline-rule';
import { ResultCodes } from '../src/model';
import type { Order } from '../src/model';
import { command, frozen, T0 } from './helpers/fixtures';

const S = 1000;
const at = (s: number): Date => new Date(T0.getTime() + s * S);

/** An order of a command with `timeout` 60 s and the given window, created at T0. */
function windowed(windowS?: number): Order {
  return newOrder({
    command: command(windowS === undefined ? {} : { delivery_window_s: windowS }),
    requestId: 7,
    orderId: 1,
    target: { type: 'agent', id: '001' },
    groups: ['default'],
    principal: 'alice',
    now: T0,
  });
}

function failedWith(v: OverdueVerdict): number | undefined {
  return v.kind === 'fail' ? v.order.command.result?.code : undefined;
}

function postponedTo(v: OverdueVerdict): string | undefined {
  return v.kind === 'postpone' ? v.order.delivery_timestamp : undefined;
}

describe('an order past its deadline', () => {
  it('keeps the codes of an order without a window, and fails an offline agent with its own', () => {
    const pending = frozen(windowed());
    const sent = frozen(markSent(windowed(), at(1)));
    expect(deliveryWindowEnd(pending)).toBe(at(60).getTime());
    expect(failedWith(overdueVerdict(pending, 'online', at(61)))).toBe(ResultCodes.EXPIRED_UNDELIVERED);
    expect(failedWith(overdueVerdict(sent, 'unknown', at(61)))).toBe(ResultCodes.NO_RESULT_IN_TIME);
    expect(failedWith(overdueVerdict(pending, 'offline', at(61)))).toBe(ResultCodes.AGENT_OFFLINE);
    expect(failedWith(overdueVerdict(sent, 'offline', at(61)))).toBe(ResultCodes.AGENT_OFFLINE);
    const three = new Set([
      ResultCodes.EXPIRED_UNDELIVERED,
      ResultCodes.NO_RESULT_IN_TIME,
      ResultCodes.AGENT_OFFLINE,
    ]);
    expect(three.size).toBe(3);
  });

  it('a pending order within its window waits for the window end; after it, offline decides the code', () => {
    const pending = frozen(windowed(3600));
    expect(pending.scheduling.delivery_window_ends_at).toBe(at(3600).toISOString());
    expect(postponedTo(overdueVerdict(pending, 'online', at(61)))).toBe(at(3600).toISOString());
    expect(failedWith(overdueVerdict(pending, 'offline', at(3600)))).toBe(ResultCodes.AGENT_OFFLINE);
    expect(failedWith(overdueVerdict(pending, 'online', at(3600)))).toBe(ResultCodes.EXPIRED_UNDELIVERED);
  });

  it('a sent order of an offline agent is checked again every timeout until the window ends, then fails offline', () => {
    const sent = markSent(windowed(150), at(1));
    const first = overdueVerdict(frozen(sent), 'offline', at(61));
    expect(postponedTo(first)).toBe(at(121).toISOString());
    expect(first.kind === 'postpone' && first.order.scheduling.agent_offline_at).toBe(at(61).toISOString());
    const second = first.kind === 'postpone' ? first.order : sent;
    const again = overdueVerdict(frozen(second), 'offline', at(121));
    expect(postponedTo(again)).toBe(at(150).toISOString());
    expect(again.kind === 'postpone' && again.order.scheduling.agent_offline_at).toBe(at(61).toISOString());
    const last = again.kind === 'postpone' ? again.order : sent;
    expect(failedWith(overdueVerdict(last, 'offline', at(150)))).toBe(ResultCodes.AGENT_OFFLINE);
  });

  it('an agent seen back gets its timeout from then, and then fails with no result, not offline', () => {
    const sent = markSent(windowed(150), at(1));
    const offline = overdueVerdict(sent, 'offline', at(61));
    const waiting = offline.kind === 'postpone' ? offline.order : sent;
    const back = overdueVerdict(frozen(waiting), 'online', at(100));
    expect(postponedTo(back)).toBe(at(160).toISOString());
    const returned = back.kind === 'postpone' ? back.order : sent;
    expect(returned.scheduling.agent_back_at).toBe(at(100).toISOString());
    expect(failedWith(overdueVerdict(returned, 'offline', at(160)))).toBe(ResultCodes.NO_RESULT_IN_TIME);
    expect(failedWith(overdueVerdict(returned, 'online', at(160)))).toBe(ResultCodes.NO_RESULT_IN_TIME);
  });

  it('a sent order of an online agent fails at its timeout even inside a long window', () => {
    const sent = markSent(windowed(3600), at(1));
    expect(failedWith(overdueVerdict(sent, 'online', at(61)))).toBe(ResultCodes.NO_RESULT_IN_TIME);
  });

  it('terminal orders get no verdict; presence is looked up only where it can change the verdict', () => {
    const done = windowed(3600);
    done.command.status = 'success';
    expect(overdueVerdict(done, 'offline', at(4000)).kind).toBe('none');
    expect(needsPresence(windowed(3600), at(61))).toBe(false);
    expect(deliveryDeadline(windowed(3600))).toBe(at(3600).getTime());
    expect(deliveryDeadline(windowed())).toBe(at(60).getTime());
    expect(needsPresence(windowed(3600), at(3600))).toBe(true);
    expect(needsPresence(markSent(windowed(3600), at(1)), at(61))).toBe(true);
    const server = newOrder({
      command: command(),
      requestId: 7,
      orderId: 1,
      target: { type: 'server', id: 'vulnerability-detector' },
      groups: [],
      principal: 'alice',
      now: T0,
    });
    expect(needsPresence(markSent(server, at(1)), at(61))).toBe(false);
  });
});
