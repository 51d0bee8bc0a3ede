// Every role assignment of the deployment, least privilege: the app's identity gets data-plane
// roles only, each on the one resource (or container, or database) it needs. Built-in role ids are
// the same in every tenant; each carries its role's name, and tests/infra checks the pair.

metadata description = 'agentops role assignments'

@description('Object id of the app\'s user-assigned identity.')
param principalId string

@description('Object id of the person or pipeline running the deployment, to write the Key Vault secrets; empty for none.')
param deployerPrincipalId string = ''

@description('User or ServicePrincipal: the kind of principal deployerPrincipalId is.')
@allowed([
  'User'
  'ServicePrincipal'
])
param deployerPrincipalType string = 'User'

@description('Host storage accounts (one per region): AzureWebJobsStorage and the deployment package.')
param hostStorageNames array

@description('True when the durable backend is the Azure Storage provider (queues and tables in the host account).')
param durableOnStorage bool

@description('The data storage account (backups, reports).')
param dataStorageName string

@description('The blob containers of the data account the app writes (not the audit exports).')
param appBlobContainers array

@description('The Cosmos DB account.')
param cosmosAccountName string

@description('The Cosmos DB database the app reads and writes.')
param cosmosDatabaseName string

@description('The Key Vault.')
param keyVaultName string

@description('The Azure OpenAI account.')
param openAiName string

@description('The Application Insights component.')
param applicationInsightsName string

@description('Durable Task Schedulers (one per region); empty with the Azure Storage backend.')
param schedulerNames array

var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b' // Storage Blob Data Owner
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe' // Storage Blob Data Contributor
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88' // Storage Queue Data Contributor
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3' // Storage Table Data Contributor
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6' // Key Vault Secrets User
  keyVaultSecretsOfficer: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7' // Key Vault Secrets Officer
  cognitiveServicesOpenAiUser: '5e0bd9bd-7b93-4f28-af87-19fc36ad61bd' // Cognitive Services OpenAI User
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb' // Monitoring Metrics Publisher
  durableTaskDataContributor: '0ad04412-c4d5-4796-b79c-f76d14c8d402' // Durable Task Data Contributor
}

// Cosmos DB's data plane has its own role definitions, scoped to the account.
var cosmosDataContributor = '00000000-0000-0000-0000-000000000002' // Cosmos DB Built-in Data Contributor

resource hostStorage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = [
  for name in hostStorageNames: {
    name: name
  }
]

// The Functions host keeps blob leases (timer singletons), keys and the deployment package in
// blobs: Microsoft's documentation for identity-based AzureWebJobsStorage asks for Owner.
resource hostBlobOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for (name, i) in hostStorageNames: {
    name: guid(hostStorage[i].id, principalId, roles.storageBlobDataOwner)
    scope: hostStorage[i]
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataOwner)
      principalId: principalId
      principalType: 'ServicePrincipal'
    }
  }
]

// Queues and tables only for the Azure Storage durable backend (its work items and history).
resource hostQueueContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for (name, i) in hostStorageNames: if (durableOnStorage) {
    name: guid(hostStorage[i].id, principalId, roles.storageQueueDataContributor)
    scope: hostStorage[i]
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataContributor)
      principalId: principalId
      principalType: 'ServicePrincipal'
    }
  }
]

resource hostTableContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for (name, i) in hostStorageNames: if (durableOnStorage) {
    name: guid(hostStorage[i].id, principalId, roles.storageTableDataContributor)
    scope: hostStorage[i]
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageTableDataContributor)
      principalId: principalId
      principalType: 'ServicePrincipal'
    }
  }
]

resource dataStorage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: dataStorageName
}

resource dataBlobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' existing = {
  parent: dataStorage
  name: 'default'
}

resource appContainers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = [
  for name in appBlobContainers: {
    parent: dataBlobService
    name: name
  }
]

// Read, write and delete (retention prunes backups) in the app's containers only: the audit
// exports container is outside the app's reach.
resource appBlobContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for (name, i) in appBlobContainers: {
    name: guid(appContainers[i].id, principalId, roles.storageBlobDataContributor)
    scope: appContainers[i]
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
      principalId: principalId
      principalType: 'ServicePrincipal'
    }
  }
]

resource cosmos 'Microsoft.DocumentDB/databaseAccounts@2024-11-15' existing = {
  name: cosmosAccountName
}

// Items in the app's database only; creating or changing containers stays with ARM (cosmos.bicep).
resource cosmosData 'Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments@2024-11-15' = {
  parent: cosmos
  name: guid(cosmos.id, principalId, cosmosDataContributor)
  properties: {
    roleDefinitionId: '${cosmos.id}/sqlRoleDefinitions/${cosmosDataContributor}'
    principalId: principalId
    scope: '${cosmos.id}/dbs/${cosmosDatabaseName}'
  }
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

// Read secret values (Key Vault references and KEY_VAULT_URL); not list keys, not write.
resource vaultSecretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, principalId, roles.keyVaultSecretsUser)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsUser)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

// The deployer writes the key rings once (infra/scripts/seed-secrets.sh, run by azd).
resource vaultSecretsOfficer 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployerPrincipalId)) {
  name: guid(vault.id, deployerPrincipalId, roles.keyVaultSecretsOfficer)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsOfficer)
    principalId: deployerPrincipalId
    principalType: deployerPrincipalType
  }
}

resource openAi 'Microsoft.CognitiveServices/accounts@2024-10-01' existing = {
  name: openAiName
}

// Inference only: no deployment or account management.
resource openAiUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(openAi.id, principalId, roles.cognitiveServicesOpenAiUser)
  scope: openAi
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.cognitiveServicesOpenAiUser)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

// Telemetry ingestion with Entra ID (local auth is off on the component).
resource metricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(applicationInsights.id, principalId, roles.monitoringMetricsPublisher)
  scope: applicationInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

resource schedulers 'Microsoft.DurableTask/schedulers@2025-11-01' existing = [
  for name in schedulerNames: {
    name: name
  }
]

// Data Contributor rather than Worker: the app also starts, queries, terminates and purges
// orchestrations (the HTTP API), which Worker does not allow.
resource durableData 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for (name, i) in schedulerNames: {
    name: guid(schedulers[i].id, principalId, roles.durableTaskDataContributor)
    scope: schedulers[i]
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.durableTaskDataContributor)
      principalId: principalId
      principalType: 'ServicePrincipal'
    }
  }
]
