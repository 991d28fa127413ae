/**
 * Request bodies exactly as Wazuh's own senders build them, byte for byte, as JSON text (never objects, so
 * that no field is added, dropped or reordered on the way). Each names the file and function it reproduces.
 *
 * The server (wazuh/wazuh) builds a `Command` dataclass and posts `asdict(command, dict_factory=convert_enums)`
 * (`framework/wazuh/core/indexer/utils.py`: enums become their values and `None` fields are dropped) through
 * opensearch-py, whose JSON serializer writes compact JSON (`separators=(",", ":")`). Field order follows the
 * dataclasses of `framework/wazuh/core/indexer/models/commands.py`: Command (source, user, target, action,
 * timeout), Target (id, type), Action (name, version, args).
 *
 * The content manager (wazuh/wazuh-indexer-plugins) writes its body with OpenSearch's XContentBuilder
 * (compact JSON, fields in call order).
 */

/** An agent id as the server sends it (a UUID); the test seeds it into the agents index. */
export const WAZUH_AGENT_ID = 'd5b250c4-dfa1-4d94-827f-9f99210dbe6c';

export interface WazuhBody {
  /** What sends it: repository, file, function, and the commits it was sent by. */
  sender: string;
  body: string;
}

export const WAZUH_BODIES = {
  /**
   * wazuh/wazuh `framework/wazuh/core/indexer/commands.py` `create_set_group_command` (from commit f42f298a58,
   * January 2025): `args={'groups': groups}`, `CommandsManager.create` posts `{'commands': [...]}`.
   */
  serverSetGroup: {
    sender: 'wazuh/wazuh framework/wazuh/core/indexer/commands.py create_set_group_command (2025)',
    body: `{"commands":[{"source":"Users/Services","user":"Management API","target":{"id":"${WAZUH_AGENT_ID}","type":"agent"},"action":{"name":"set-group","version":"5.0.0","args":{"groups":["g1","g2"]}},"timeout":100}]}`,
  },
  /** Same file, `create_restart_command`: `Action(name='restart', version='5.0.0')`, no args (None is dropped). */
  serverRestart: {
    sender: 'wazuh/wazuh framework/wazuh/core/indexer/commands.py create_restart_command',
    body: `{"commands":[{"source":"Users/Services","user":"Management API","target":{"id":"${WAZUH_AGENT_ID}","type":"agent"},"action":{"name":"restart","version":"5.0.0"},"timeout":100}]}`,
  },
  /** Same file, `create_fetch_config_command` (from commit 5ff3ffdfdc): `args={}`. */
  serverFetchConfig: {
    sender: 'wazuh/wazuh framework/wazuh/core/indexer/commands.py create_fetch_config_command',
    body: `{"commands":[{"source":"Users/Services","user":"Management API","target":{"id":"${WAZUH_AGENT_ID}","type":"agent"},"action":{"name":"fetch-config","version":"5.0.0","args":{}},"timeout":100}]}`,
  },
  /**
   * Same file, `create_set_group_command` between commits 10850898bf (December 2024: the `commands`
   * envelope) and f42f298a58 (January 2025): `args=groups`, a list (`Action.args: List[str]`).
   */
  serverSetGroupListArgs: {
    sender:
      'wazuh/wazuh framework/wazuh/core/indexer/commands.py create_set_group_command (Dec 2024–Jan 2025, args a list)',
    body: `{"commands":[{"source":"Users/Services","user":"Management API","target":{"id":"${WAZUH_AGENT_ID}","type":"agent"},"action":{"name":"set-group","version":"5.0.0","args":["g1","g2"]},"timeout":100}]}`,
  },
  /** Same file and era, `create_update_group_command`: the action later renamed `fetch-config` (5ff3ffdfdc). */
  serverUpdateGroup: {
    sender:
      'wazuh/wazuh framework/wazuh/core/indexer/commands.py create_update_group_command (until Jan 2025)',
    body: `{"commands":[{"source":"Users/Services","user":"Management API","target":{"id":"${WAZUH_AGENT_ID}","type":"agent"},"action":{"name":"update-group","version":"5.0.0"},"timeout":100}]}`,
  },
  /**
   * Same file, `create_set_group_command` between commits 279902029d (October 2024) and 8b0abfb503
   * (November 2024): `CommandsManager.create(command)` posted ONE command bare (`body=asdict(command, …)`),
   * `args` a list, `version` with a `v` prefix.
   */
  serverBareSetGroup: {
    sender:
      'wazuh/wazuh framework/wazuh/core/indexer/commands.py create_set_group_command (Oct–Nov 2024, bare)',
    body: `{"source":"Users/Services","user":"Management API","target":{"id":"${WAZUH_AGENT_ID}","type":"agent"},"action":{"name":"set-group","version":"v5.0.0","args":["g1","g2"]},"timeout":100}`,
  },
  /** Same era, `create_restart_command`, bare. */
  serverBareRestart: {
    sender:
      'wazuh/wazuh framework/wazuh/core/indexer/commands.py create_restart_command (Oct–Nov 2024, bare)',
    body: `{"source":"Users/Services","user":"Management API","target":{"id":"${WAZUH_AGENT_ID}","type":"agent"},"action":{"name":"restart","version":"v5.0.0"},"timeout":100}`,
  },
  /**
   * wazuh/wazuh-indexer-plugins `plugins/content-manager/src/main/java/com/wazuh/contentmanager/model/command/Command.java`
   * `create(offset)` (from commit 085c5021a, March 2025; earlier under `model/commandmanager/`): no `user`,
   * `source` spelt `Content Manager`, the offset a string (`String.valueOf(long)`).
   */
  contentManagerUpdate: {
    sender:
      'wazuh/wazuh-indexer-plugins plugins/content-manager/.../model/command/Command.java create(offset)',
    body: '{"commands":[{"action":{"name":"update","args":{"index":"content-index","offset":"42"},"version":"5.0.0"},"source":"Content Manager","timeout":100,"target":{"id":"vulnerability-detector","type":"server"}}]}',
  },
  /** Same builder between commits e86e35840 and b8f3a1a92 (March 2025): it also sent `"user":"Content Manager"`. */
  contentManagerUpdateWithUser: {
    sender:
      'wazuh/wazuh-indexer-plugins plugins/content-manager/.../model/commandmanager/Command.java (Mar 2025, with user)',
    body: '{"commands":[{"action":{"name":"update","args":{"index":"content-index","offset":"42"},"version":"5.0.0"},"source":"Content Manager","user":"Content Manager","timeout":100,"target":{"id":"vulnerability-detector","type":"server"}}]}',
  },
  /**
   * wazuh/wazuh-indexer-plugins `plugins/command-manager/openapi.yml`, example `refresh` (the plugin's own API
   * document; no program builds it): no `user`, `args.index` a list, target `server`/`rbac`.
   */
  pluginRefreshExample: {
    sender: 'wazuh/wazuh-indexer-plugins plugins/command-manager/openapi.yml example "refresh"',
    body: '{"commands":[{"action":{"name":"refresh","args":{"index":["index-a","index-b"]},"version":"5.0.0"},"source":"Users/Services","timeout":100,"target":{"id":"rbac","type":"server"}}]}',
  },
} as const satisfies Record<string, WazuhBody>;
