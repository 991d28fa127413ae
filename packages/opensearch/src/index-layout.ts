/** Names of every index and template derived from the orders index name (default `wazuh-commands`). */
export const DEFAULT_ORDERS_INDEX = 'wazuh-commands';
export const DEFAULT_AGENTS_INDEX = 'wazuh-agents';

export interface IndexLayout {
  /** The orders stream (Wazuh's `wazuh-commands`). */
  orders: string;
  /** Request records, idempotency entries, the request-id counter and locks. */
  requests: string;
  /** The audit trail (under the orders index's pattern, so the sidecar's role covers it). */
  audit: string;
  /** Pattern of the monthly archive indices. */
  archivePattern: string;
  /** Name of the composable templates this product installs. */
  templates: { orders: string; requests: string; archive: string };
  /** The archive index of an order, from the month of its `@timestamp`: `<orders>-archive-YYYY.MM`. */
  archiveIndexFor(timestamp: string): string;
}

// OpenSearch index names: lowercase, no `\ / * ? " < > | , #` or spaces, not starting with `-`, `_` or `+`.
const VALID_INDEX = /^[a-z0-9][a-z0-9._-]{0,200}$/;

export function indexLayout(ordersIndex: string = DEFAULT_ORDERS_INDEX): IndexLayout {
  if (!VALID_INDEX.test(ordersIndex)) {
    throw new TypeError(`invalid orders index name: ${JSON.stringify(ordersIndex)}`);
  }
  const archivePrefix = `${ordersIndex}-archive-`;
  return {
    orders: ordersIndex,
    requests: `${ordersIndex}-requests`,
    audit: `${ordersIndex}-audit`,
    archivePattern: `${archivePrefix}*`,
    templates: {
      orders: `command-manager-${ordersIndex}`,
      requests: `command-manager-${ordersIndex}-requests`,
      archive: `command-manager-${ordersIndex}-archive`,
    },
    archiveIndexFor(timestamp: string): string {
      const t = new Date(timestamp);
      // An unparsable timestamp cannot come from a stored order (the mapping types it as a date); still,
      // never build an `archive-NaN.NaN` index.
      if (Number.isNaN(t.getTime())) return `${archivePrefix}undated`;
      const month = String(t.getUTCMonth() + 1).padStart(2, '0');
      return `${archivePrefix}${t.getUTCFullYear()}.${month}`;
    },
  };
}
