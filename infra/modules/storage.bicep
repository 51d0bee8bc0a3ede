// A storage account reached only with Entra ID: shared keys off, TLS 1.2, HTTPS only, no public
// blob access, infrastructure (double) encryption. Used twice by main.bicep: the host's account
// (AzureWebJobsStorage, the deployment package, the Azure Storage durable backend) and the data
// account (the app's backups and reports, and the audit exports that nobody may alter).

metadata description = 'agentops storage account, its blob containers and diagnostics'

@description('Name of the storage account (3-24 lowercase letters and digits).')
@minLength(3)
@maxLength(24)
param name string

@description('Region of the account.')
param location string

@description('Tags for the account.')
param tags object

@description('Redundancy: ZRS survives a zone, GZRS also copies to the paired region (asynchronously).')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_GZRS'
  'Standard_RAGZRS'
])
param skuName string = 'Standard_ZRS'

@description('Blob containers: {name, immutabilityDays} (immutabilityDays > 0 adds a time-based WORM policy, unlocked).')
param containers array

@description('Keep versions of overwritten blobs (a report regenerated for the same day keeps its earlier version).')
param versioning bool = true

@description('Days a deleted blob or container can be recovered.')
@minValue(1)
@maxValue(365)
param softDeleteDays int = 14

@description('True: reachable from public networks (identity still required). False: private endpoints only.')
param publicNetworkAccess bool = true

@description('Resource id of the Log Analytics workspace for diagnostic settings.')
param workspaceId string

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  // checkov:skip=CKV_AZURE_35: network access is a parameter, Deny for the data account with privateNetworking; the host accounts stay reachable publicly in this template (no private endpoints for their blob, queue and table services yet), and shared keys are off on all, so every request needs an Entra ID token with a data role
  // checkov:skip=CKV_AZURE_206: redundancy is a parameter (skuName): ZRS by default, RAGZRS for the data account in main.prod.parameters.json
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: skuName
  }
  properties: {
    accessTier: 'Hot'
    allowSharedKeyAccess: false // identity only: AzureWebJobsStorage__credential, the app's blob client
    defaultToOAuthAuthentication: true // the portal uses Entra ID too
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: publicNetworkAccess ? 'Enabled' : 'Disabled'
    networkAcls: {
      bypass: 'AzureServices' // trusted Azure services (diagnostics); nothing else without a rule
      defaultAction: publicNetworkAccess ? 'Allow' : 'Deny'
    }
    encryption: {
      keySource: 'Microsoft.Storage'
      requireInfrastructureEncryption: true // a second layer of AES-256 (the encryption policy audits it)
      services: {
        blob: {
          enabled: true
          keyType: 'Account'
        }
        file: {
          enabled: true
          keyType: 'Account'
        }
        queue: {
          enabled: true
          keyType: 'Account'
        }
        table: {
          enabled: true
          keyType: 'Account'
        }
      }
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    isVersioningEnabled: versioning
    deleteRetentionPolicy: {
      enabled: true
      days: softDeleteDays
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: softDeleteDays
    }
  }
}

resource blobContainers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = [
  for container in containers: {
    parent: blobService
    name: container.name
    properties: {
      publicAccess: 'None'
      // Version-level WORM: each version is kept for the policy's days, then may be deleted.
      immutableStorageWithVersioning: {
        enabled: container.immutabilityDays > 0
      }
    }
  }
]

// Unlocked, so that a mistaken period can still be shortened; lock it (Azure CLI, docs/deploy.md)
// once the period is agreed with the auditors, after which nobody can shorten or remove it.
resource immutability 'Microsoft.Storage/storageAccounts/blobServices/containers/immutabilityPolicies@2023-05-01' = [
  for (container, i) in containers: if (container.immutabilityDays > 0) {
    parent: blobContainers[i]
    name: 'default'
    properties: {
      immutabilityPeriodSinceCreationInDays: container.immutabilityDays
      allowProtectedAppendWrites: false
    }
  }
]

resource blobDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: blobService
  properties: {
    workspaceId: workspaceId
    logs: [
      {
        categoryGroup: 'allLogs'
        enabled: true
      }
    ]
    metrics: [
      {
        category: 'Transaction'
        enabled: true
      }
    ]
  }
}

@description('Resource id of the account.')
output id string = account.id

@description('Name of the account.')
output name string = account.name

@description('Blob endpoint, https://<name>.blob.core.windows.net/.')
output blobEndpoint string = account.properties.primaryEndpoints.blob

@description('Queue endpoint.')
output queueEndpoint string = account.properties.primaryEndpoints.queue

@description('Table endpoint.')
output tableEndpoint string = account.properties.primaryEndpoints.table
