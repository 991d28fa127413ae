/** Wazuh's plugin serves under this prefix (`PluginSettings.getApiCommandsEndpoint()` = `/_plugins/_command_manager/commands`). */
export const API_PREFIX = '/_plugins/_command_manager';
