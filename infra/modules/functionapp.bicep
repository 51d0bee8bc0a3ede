// The Function App on a Flex Consumption plan (Python 3.13) with the app's user-assigned identity.
// This module adds the host's own settings (identity-based AzureWebJobsStorage, Application
// Insights with Entra ID, the durable backend) to the app settings main.bicep composes.

metadata description = 'agentops Function App on Flex Consumption'

@description('Name of the Function App.')
param name string

@description('Name of its Flex Consumption plan.')
param planName string

@description('Region of the plan and the app.')
param location string

@description('Tags for both; the app also gets azd-service-name.')
param tags object

@description('Resource id of the user-assigned identity.')
param identityId string

@description('Client id of the identity.')
param identityClientId string

@description('Name of the host storage account (AzureWebJobsStorage).')
param hostStorageName string

@description('Blob endpoint of the host storage account, ending in /.')
param hostBlobEndpoint string

@description('Queue endpoint of the host storage account (the Azure Storage durable backend).')
param hostQueueEndpoint string

@description('Table endpoint of the host storage account (the Azure Storage durable backend).')
param hostTableEndpoint string

@description('Container of the host storage account that holds the deployment package.')
param deploymentContainerName string

@description('Instance memory in MB: 512, 2048 or 4096 (CPU grows with it; billed per GB-second).')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int

@description('Most instances the plan may scale out to (40-1000): the ceiling of concurrency and of cost.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int

@description('Always-ready instances for HTTP triggers (billed while idle, no cold start).')
@minValue(0)
param alwaysReadyHttp int

@description('Always-ready instances for orchestrations and activities (the "durable" group).')
@minValue(0)
param alwaysReadyDurable int

@description('Spread instances over availability zones; the platform then keeps at least two always-ready instances per group (billed).')
param zoneRedundant bool

@description('The app\'s own settings (name to value), composed by main.bicep.')
param appSettings object

@description('azureStorage or durableTaskScheduler.')
@allowed([
  'azureStorage'
  'durableTaskScheduler'
])
param durableBackend string

@description('Endpoint of the Durable Task Scheduler (durableTaskScheduler backend only).')
param schedulerEndpoint string = ''

@description('Application Insights connection string.')
param applicationInsightsConnectionString string

@description('Subnet (delegated to Microsoft.App/environments) for VNet integration; empty for none.')
param subnetId string = ''

@description('Front Door profile id (X-Azure-FDID): when set, only that Front Door may call the app.')
param frontDoorId string = ''

@description('Resource id of the Log Analytics workspace for diagnostic settings.')
param workspaceId string

var hostSettings = {
  // The host's storage with the identity: no connection string, no key.
  AzureWebJobsStorage__accountName: hostStorageName
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  AzureWebJobsStorage__blobServiceUri: hostBlobEndpoint
  AzureWebJobsStorage__queueServiceUri: hostQueueEndpoint
  AzureWebJobsStorage__tableServiceUri: hostTableEndpoint
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsightsConnectionString
  // Local auth is off on the component: the host and the Python exporter both sign in with this.
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
  // The Python worker joins the host's OpenTelemetry traces and exports its own logs.
  PYTHON_ENABLE_OPENTELEMETRY: 'true'
  // The HTTP routes take the HTTP streams extension's FastAPI types; the worker serves them only
  // with this on (and the app fails to index without it).
  PYTHON_ENABLE_INIT_INDEXING: '1'
}

// host.json names no storage provider (Azure Storage, the default); these app settings override
// it for the Durable Task Scheduler, so the same package runs on either backend.
var schedulerSettings = {
  AzureFunctionsJobHost__extensions__durableTask__storageProvider__type: 'azureManaged'
  AzureFunctionsJobHost__extensions__durableTask__storageProvider__connectionStringName: 'DURABLE_TASK_SCHEDULER_CONNECTION_STRING'
  DURABLE_TASK_SCHEDULER_CONNECTION_STRING: 'Endpoint=${schedulerEndpoint};Authentication=ManagedIdentity;ClientID=${identityClientId}'
}
var durableSettings = durableBackend == 'durableTaskScheduler' ? schedulerSettings : {}

var settings = union(hostSettings, durableSettings, appSettings)

var httpReady = [
  {
    name: 'http'
    instanceCount: alwaysReadyHttp
  }
]
var durableReady = [
  {
    name: 'durable' // orchestrations, activities and entities
    instanceCount: alwaysReadyDurable
  }
]
var alwaysReady = concat(alwaysReadyHttp > 0 ? httpReady : [], alwaysReadyDurable > 0 ? durableReady : [])

var frontDoorOnly = [
  {
    name: 'front-door'
    action: 'Allow'
    priority: 100
    tag: 'ServiceTag'
    ipAddress: 'AzureFrontDoor.Backend'
    headers: {
      'x-azure-fdid': [
        frontDoorId
      ]
    }
  }
]

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  // checkov:skip=CKV_AZURE_225: zone redundancy is a parameter (zoneRedundant): on in main.prod.parameters.json, off in dev where it would keep two always-ready instances per group
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    tier: 'FlexConsumption'
    name: 'FC1'
  }
  properties: {
    reserved: true // Linux
    zoneRedundant: zoneRedundant // instances spread over the region's zones
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  // checkov:skip=CKV_AZURE_222: the API is public by design (function keys or App Service Authentication); with a second region only this deployment's Front Door is admitted (X-Azure-FDID)
  // checkov:skip=CKV_AZURE_17: callers authenticate with function keys or Entra ID (App Service Authentication), not client certificates
  // checkov:skip=CKV_AZURE_212: Flex Consumption has no instance count to set; always-ready instances are the floor (alwaysReadyHttp, alwaysReadyDurable: 1 each in prod)
  // checkov:skip=CKV_AZURE_213: readiness is probed by Front Door on /api/health/ready; App Service health check (siteConfig.healthCheckPath) is not verified offline to apply to Flex Consumption instances
  name: name
  location: location
  tags: union(tags, {
    'azd-service-name': 'api' // azure.yaml's service
  })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true // HTTP is redirected; only HTTPS reaches the app
    clientCertEnabled: false // callers authenticate with function keys or App Service Authentication
    publicNetworkAccess: 'Enabled'
    virtualNetworkSubnetId: empty(subnetId) ? null : subnetId
    keyVaultReferenceIdentity: identityId // Key Vault references resolve with the app's identity
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${hostBlobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
        alwaysReady: alwaysReady
      }
      runtime: {
        name: 'python'
        version: '3.13'
      }
    }
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      ipSecurityRestrictions: empty(frontDoorId) ? [] : frontDoorOnly
      ipSecurityRestrictionsDefaultAction: empty(frontDoorId) ? 'Allow' : 'Deny'
      scmIpSecurityRestrictionsUseMain: false // deployments (azd, Entra ID) do not pass Front Door
      appSettings: [
        for setting in items(settings): {
          name: setting.key
          value: setting.value
        }
      ]
    }
  }
}

// No publishing with user names and passwords: azd deploys with Entra ID.
resource ftpCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'scm'
  properties: {
    allow: false
  }
}

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: site
  properties: {
    workspaceId: workspaceId
    logs: [
      {
        category: 'FunctionAppLogs'
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

@description('Resource id of the Function App.')
output id string = site.id

@description('Name of the Function App.')
output name string = site.name

@description('Default host name, <name>.azurewebsites.net.')
output defaultHostName string = site.properties.defaultHostName
