#!/bin/sh
# azd postprovision hook: write each encryption key the app reads through a Key Vault reference,
# once. An existing secret is never replaced: a new backup or data key would make everything sealed
# with the old one unreadable (rotate by adding a key to the ring, README "Encryption at rest").
# Needs the Azure CLI signed in as AZURE_PRINCIPAL_ID (Key Vault Secrets Officer, rbac.bicep) and,
# with privateNetworking, a machine inside the network.
set -eu

vault="${AZURE_KEY_VAULT_NAME:?run through azd, which sets AZURE_KEY_VAULT_NAME}"

# 32 random bytes, base64: the AES-256 key the cache and the key rings hold.
new_key() {
    python3 -c 'import base64, secrets; print(base64.b64encode(secrets.token_bytes(32)).decode())'
}

ring() {
    printf '{"active": "k1", "keys": {"k1": "%s"}}' "$(new_key)"
}

seed() {
    name="$1"
    content_type="$2"
    value="$3"
    if az keyvault secret show --vault-name "$vault" --name "$name" --query id -o tsv >/dev/null 2>&1; then
        echo "seed-secrets: $name exists, left as it is"
        return
    fi
    # From standard input, so the value never appears in a process list.
    printf '%s' "$value" | az keyvault secret set --vault-name "$vault" --name "$name" \
        --file /dev/stdin --content-type "$content_type" --query id -o tsv >/dev/null
    echo "seed-secrets: $name written"
}

seed backup-encryption-key application/json "$(ring)"
seed data-encryption-keys application/json "$(ring)"
seed cache-encryption-key text/plain "$(new_key)"
