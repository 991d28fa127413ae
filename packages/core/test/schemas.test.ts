/**
 * The TypeScript types in model.ts and the JSON Schemas in schemas.ts must not drift. The type-level
 * assertions below fail `pnpm typecheck` when a property is added, removed, made optional or renamed on
 * one side only, or when an enum changes; the runtime tests validate fully-populated typed samples.
 */
import { markSent, newOrder } from '../src/lifecycle';
import type {
  Action,
  CommandBatch,
  CommandRequest,
  Order,
  OrderResult,
  OrderStatus,
  ResultReport,
  Scheduling,
  Source,
  CommandTarget,
  Target,
  TargetType,
} from '../src/model';
import type {
  actionSchema,
  commandBatchSchema,
  commandRequestSchema,
  orderResultSchema,
  orderSchema,
  resultReportBatchSchema,
  resultReportSchema,
  targetSchema,
  commandTargetSchema,
} from '../src/schemas';
import { commandRequestSchema as commandRequestSchemaValue, schemas } from '../src/schemas';
import { CommandValidator, validateOrder } from '../src/validation';
import { ActionRegistry } from '../src/action-registry';
import { T0 } from './helpers/fixtures';

type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Assert<T extends true> = T;
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
type RequiredKeys<T> = { [K in keyof T]-?: {} extends Pick<T, K> ? never : K }[keyof T];
type Props<S extends { properties: object }> = keyof S['properties'];
type Req<S extends { required: readonly string[] }> = S['required'][number];
type OrderCommand = Order['command'];
type OrderCommandSchema = typeof orderSchema.properties.command;

export type _Drift = [
  Assert<Equals<Props<typeof commandRequestSchema>, keyof CommandRequest>>,
  Assert<Equals<Req<typeof commandRequestSchema>, RequiredKeys<CommandRequest>>>,
  Assert<Equals<(typeof commandRequestSchema.properties.source.enum)[number], Source>>,
  Assert<Equals<Props<typeof commandBatchSchema>, keyof CommandBatch>>,
  Assert<Equals<Req<typeof commandBatchSchema>, RequiredKeys<CommandBatch>>>,
  Assert<Equals<Props<typeof targetSchema>, keyof Target>>,
  Assert<Equals<Req<typeof targetSchema>, RequiredKeys<Target>>>,
  Assert<Equals<(typeof targetSchema.properties.type.enum)[number], TargetType>>,
  Assert<Equals<(typeof commandTargetSchema.properties.type.enum)[number], CommandTarget['type']>>,
  Assert<Equals<Props<typeof actionSchema>, keyof Action>>,
  Assert<Equals<Req<typeof actionSchema>, RequiredKeys<Action>>>,
  Assert<Equals<Props<typeof orderResultSchema>, keyof OrderResult>>,
  Assert<Equals<Req<typeof orderResultSchema>, RequiredKeys<OrderResult>>>,
  Assert<Equals<Props<typeof orderSchema>, keyof Order>>,
  Assert<Equals<Req<typeof orderSchema>, RequiredKeys<Order>>>,
  Assert<Equals<Props<typeof orderSchema.properties.agent>, keyof Order['agent']>>,
  Assert<Equals<Props<OrderCommandSchema>, keyof OrderCommand>>,
  Assert<Equals<Req<OrderCommandSchema>, RequiredKeys<OrderCommand>>>,
  Assert<Equals<(typeof orderSchema.properties.command.properties.status.enum)[number], OrderStatus>>,
  Assert<Equals<Props<typeof orderSchema.properties.scheduling>, keyof Scheduling>>,
  Assert<Equals<Req<typeof orderSchema.properties.scheduling>, RequiredKeys<Scheduling>>>,
  Assert<Equals<Props<typeof resultReportSchema>, keyof ResultReport>>,
  Assert<Equals<Req<typeof resultReportSchema>, RequiredKeys<ResultReport>>>,
  Assert<Equals<(typeof resultReportSchema.properties.status.enum)[number], ResultReport['status']>>,
  Assert<Equals<Props<typeof resultReportBatchSchema>, 'results'>>,
];

/** A command with every optional field set: if the type gains a field the schema lacks, it fails to validate. */
const fullCommand: Required<CommandRequest> = {
  source: 'Engine',
  user: 'wazuh-server',
  target: { type: 'agent', id: '001' },
  action: { name: 'restart', args: {}, version: 'v5.0.0' },
  timeout: 100,
  delivery_window_s: 86_400,
  membership: 'snapshot',
  max_concurrency: 10,
  max_errors: '10%',
  agent_status: ['active'],
  exclude_agents: ['002'],
  rerun_of: 3,
};

describe('schemas and types agree', () => {
  const validator = new CommandValidator({ registry: ActionRegistry.withDefaults(), maxBatchCommands: 10 });

  it('a fully populated CommandRequest validates, alone and in a batch', () => {
    const batch: CommandBatch = { commands: [fullCommand] };
    expect(validator.validateBatch(batch)).toEqual(batch);
    expect(validator.validateCommand(fullCommand)).toEqual(fullCommand);
    expect(Object.keys(fullCommand).sort()).toEqual(Object.keys(commandRequestSchemaValue.properties).sort());
  });

  it('orders built by the lifecycle validate against the order schema, at every stage', () => {
    const pending = newOrder({
      command: fullCommand,
      requestId: 1,
      orderId: 1,
      target: { type: 'agent', id: '001' },
      groups: ['default'],
      principal: 'svc',
      now: T0,
    });
    expect(validateOrder(pending)).toBe(pending);
    const sent = markSent(pending, T0);
    expect(validateOrder(sent)).toBe(sent);
    const done: Order = {
      ...sent,
      command: { ...sent.command, status: 'success', result: { code: 0, message: 'ok', data: { a: 1 } } },
    };
    expect(validateOrder(done)).toBe(done);
  });

  it('a typed ResultReport validates, single and bulk', () => {
    const report: ResultReport = {
      id: '1-1',
      status: 'failure',
      result: { code: 2, message: 'no', data: { x: true } },
    };
    expect(validator.validateResultReports(report)).toEqual([report]);
    expect(validator.validateResultReports({ results: [report, report] })).toEqual([report, report]);
  });

  it('schemas are plain JSON (no $id/$schema, embeddable in an OpenAPI document)', () => {
    const text = JSON.stringify(schemas);
    expect(JSON.parse(text)).toEqual(schemas);
    expect(text).not.toContain('"$id"');
    expect(text).not.toContain('"$schema"');
    expect(Object.keys(schemas).sort()).toEqual(
      ['CommandBatch', 'CommandRequest', 'Order', 'OrderResult', 'ResultReport', 'ResultReportBatch'].sort(),
    );
  });

  it('an order document with a stray field or a wrong status is rejected by name', () => {
    const o = newOrder({
      command: fullCommand,
      requestId: 1,
      orderId: 1,
      target: { type: 'agent', id: '001' },
      groups: [],
      principal: 'p',
      now: T0,
    });
    expect(() => validateOrder({ ...o, extra: 1 })).toThrow(/extra/);
    expect(() => validateOrder({ ...o, command: { ...o.command, status: 'done' } })).toThrow(
      /\/command\/status/,
    );
  });
});
