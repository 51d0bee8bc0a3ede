// Azure OpenAI with the model deployments agents.yaml names. Keys are off: the app reaches it with
// its identity (Cognitive Services OpenAI User, rbac.bicep), so MODEL_API_KEY stays unset.

metadata description = 'agentops Azure OpenAI account and model deployments'

@description('Name of the account; also its custom subdomain, which Entra ID authentication needs.')
param name string

@description('Region of the account (model and quota availability vary by region).')
param location string

@description('Tags for the account.')
param tags object

@description('Model deployments: {name (as agents.yaml names it), model, version, skuName (GlobalStandard, Standard...), capacity (thousands of tokens per minute)}.')
param deployments array

@description('True: reachable from public networks (identity still required). False: private endpoints only.')
param publicNetworkAccess bool = true

@description('Resource id of the Log Analytics workspace for diagnostic settings.')
param workspaceId string

resource account 'Microsoft.CognitiveServices/accounts@2024-10-01' = {
  // checkov:skip=CKV_AZURE_134: public access is a parameter, Disabled with privateNetworking; otherwise keys are off and only Entra ID callers with Cognitive Services OpenAI User get in
  // checkov:skip=CKV_AZURE_238: the account calls nothing on its own (no customer-managed key, no data sources), so an identity would be a principal without a use
  name: name
  location: location
  tags: tags
  kind: 'OpenAI'
  sku: {
    name: 'S0'
  }
  properties: {
    customSubDomainName: name
    disableLocalAuth: true // Entra ID only
    publicNetworkAccess: publicNetworkAccess ? 'Enabled' : 'Disabled'
    networkAcls: {
      defaultAction: publicNetworkAccess ? 'Allow' : 'Deny'
    }
  }
}

// One at a time: Azure refuses concurrent deployment changes on one account.
@batchSize(1)
resource modelDeployments 'Microsoft.CognitiveServices/accounts/deployments@2024-10-01' = [
  for deployment in deployments: {
    parent: account
    name: deployment.name
    sku: {
      name: deployment.skuName
      capacity: deployment.capacity
    }
    properties: {
      model: {
        format: 'OpenAI'
        name: deployment.model
        version: deployment.version
      }
      versionUpgradeOption: 'NoAutoUpgrade' // a model version changes with a reviewed parameter file
    }
  }
]

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: account
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
        category: 'AllMetrics'
        enabled: true
      }
    ]
  }
}

@description('Resource id of the account.')
output id string = account.id

@description('Name of the account.')
output name string = account.name

@description('Endpoint of the account (AZURE_OPENAI_ENDPOINT).')
output endpoint string = account.properties.endpoint
