#!/bin/sh
# One-shot, as the indexer's admin: the sidecar's least-privilege role (command-manager-role.json, the same
# file scripts/opensearch --secure loads), its user `cm-sidecar`, and the mapping between them. Idempotent
# (PUT replaces). Run by compose's `indexer-users` service once the indexer is healthy.
set -eu
api="https://wazuh.indexer:9200/_plugins/_security/api"
call() {
  curl -fsS --cacert /run/certs/root-ca.pem -u "admin:${OPENSEARCH_ADMIN_PASSWORD}" \
    -H 'content-type: application/json' "$@" >/dev/null
}
# JSON string of the password: backslashes and double quotes escaped.
password_json="$(printf '%s' "$CM_SIDECAR_INDEXER_PASSWORD" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g')"
call -X PUT "$api/roles/command_manager_sidecar" --data-binary @/run/role/command-manager-role.json
call -X PUT "$api/internalusers/cm-sidecar" -d "{\"password\":\"$password_json\",\"backend_roles\":[]}"
call -X PUT "$api/rolesmapping/command_manager_sidecar" -d '{"users":["cm-sidecar"]}'
echo "role command_manager_sidecar and user cm-sidecar in place"
