// Key Vault for the secrets that have no identity option (the backup, cache and data encryption
// key rings): Azure RBAC rather than access policies, soft delete and purge protection so that a
// deleted key, without which backups cannot be read, can be recovered and never purged early.

metadata description = 'agentops Key Vault'

@description('Name of the vault (3-24 letters, digits and dashes).')
@minLength(3)
@maxLength(24)
param name string

@description('Region of the vault.')
param location string

@description('Tags for the vault.')
param tags object

@description('Days a deleted secret or vault is kept (7-90); cannot be changed after creation.')
@minValue(7)
@maxValue(90)
param softDeleteRetentionInDays int = 90

@description('True: reachable from public networks (identity still required). False: private endpoints only.')
param publicNetworkAccess bool = true

@description('Resource id of the Log Analytics workspace for diagnostic settings.')
param workspaceId string

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  // checkov:skip=CKV_AZURE_109: the firewall default is a parameter, Deny with privateNetworking; otherwise RBAC alone admits the app's identity and the deployer
  // checkov:skip=CKV_AZURE_189: the same parameter sets public access (Disabled with privateNetworking); checkov 3.3.30 also raises an error evaluating this check on an expression (logged, not a finding)
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true // roles from rbac.bicep; no access policies
    enableSoftDelete: true
    softDeleteRetentionInDays: softDeleteRetentionInDays
    enablePurgeProtection: true // a deleted key ring cannot be purged before its retention ends
    publicNetworkAccess: publicNetworkAccess ? 'Enabled' : 'Disabled'
    networkAcls: {
      bypass: 'AzureServices' // App Service resolves Key Vault references as a trusted service
      defaultAction: publicNetworkAccess ? 'Allow' : 'Deny'
    }
  }
}

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: vault
  properties: {
    workspaceId: workspaceId
    logs: [
      {
        categoryGroup: 'audit' // every secret read, by whom
        enabled: true
      }
    ]
    metrics: [
      {
        category: 'AllMetrics'
        enabled: true
      }
    ]
  }
}

@description('Resource id of the vault.')
output id string = vault.id

@description('Name of the vault.')
output name string = vault.name

@description('URI of the vault (KEY_VAULT_URL).')
output uri string = vault.properties.vaultUri
