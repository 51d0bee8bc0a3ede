// Azure Policy assignments on the resource group: the four required tags (Deny: a resource without
// them is refused), and `effect` (Audit by default) for encryption and key-free access, which this
// deployment meets (storage.bicep, cosmos.bicep) and which anything added by hand is measured
// against. Storage network rules are always Audit: the host storage accounts are public by design.
// Built-in definition ids are the same in every tenant; each carries its definition's name.

metadata description = 'agentops policy assignments'

@description('Tag names every resource must carry.')
param requiredTags array = [
  'cost-center'
  'environment'
  'owner'
  'application'
]

@description('Effect of the encryption and key-free access assignments: Audit reports, Deny refuses.')
@allowed([
  'Audit'
  'Deny'
  'Disabled'
])
param effect string = 'Audit'

@description('True when the deployment uses private endpoints: then storage open to public networks is reported too.')
param privateNetworking bool

var definitions = {
  requireTag: '871b6d14-10aa-478d-b590-94f262ecfa99' // Require a tag on resources
  storageSecureTransfer: '404c3081-a854-4457-ae30-26a93ef643f9' // Secure transfer to storage accounts should be enabled
  storageInfrastructureEncryption: '4733ea7b-a883-42fe-8cac-97454c2a9e4a' // Storage accounts should have infrastructure encryption
  storageNoSharedKey: '8c6a50c6-9ffd-4ae7-986f-5fa6111f9a54' // Storage accounts should prevent shared key access
  storageNetworkAccess: '34c877ad-507e-4c82-993e-3452a6e0ad3c' // Storage accounts should restrict network access
  cosmosLocalAuth: '5450f5bd-9c72-4390-a9c4-a7aba4edfdd2' // Cosmos DB database accounts should have local authentication methods disabled
}

var alwaysGuarded = [
  {
    name: 'storage-secure-transfer'
    effect: effect
    definition: definitions.storageSecureTransfer
  }
  {
    name: 'storage-infrastructure-encryption'
    effect: effect
    definition: definitions.storageInfrastructureEncryption
  }
  {
    name: 'storage-no-shared-key'
    effect: effect
    definition: definitions.storageNoSharedKey
  }
  {
    name: 'cosmos-no-local-auth'
    effect: effect
    definition: definitions.cosmosLocalAuth
  }
]
var networkGuarded = [
  {
    name: 'storage-network-access'
    effect: 'Audit' // Deny would refuse the public host storage accounts
    definition: definitions.storageNetworkAccess
  }
]
var guarded = privateNetworking ? concat(alwaysGuarded, networkGuarded) : alwaysGuarded

resource tagAssignments 'Microsoft.Authorization/policyAssignments@2024-04-01' = [
  for tag in requiredTags: {
    name: 'require-tag-${tag}'
    properties: {
      displayName: 'agentops: every resource carries the ${tag} tag'
      policyDefinitionId: tenantResourceId('Microsoft.Authorization/policyDefinitions', definitions.requireTag)
      enforcementMode: 'Default'
      parameters: {
        tagName: {
          value: tag
        }
      }
    }
  }
]

resource guardAssignments 'Microsoft.Authorization/policyAssignments@2024-04-01' = [
  for guard in guarded: {
    name: guard.name
    properties: {
      displayName: 'agentops: ${guard.name}'
      policyDefinitionId: tenantResourceId('Microsoft.Authorization/policyDefinitions', guard.definition)
      enforcementMode: 'Default'
      parameters: {
        effect: {
          value: guard.effect
        }
      }
    }
  }
]
