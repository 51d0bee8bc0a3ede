// agentops on Azure: the Function App (Flex Consumption) and everything it reads and writes, for
// `azd up`. Our own small modules rather than Azure Verified Modules: see docs/deploy.md ("Why our
// own modules") for the reason, and the AVM module each one corresponds to.
//
// Every app setting the code reads is either set in `appSettings` below (or by
// modules/functionapp.bicep for the host's own), or deliberately left to its default; the list and
// the reasons are in tests/infra/test_settings_coverage.py and docs/deploy.md.

targetScope = 'subscription'

metadata description = 'agentops: batch agent runs on Azure Functions'

// --- Environment ---------------------------------------------------------------------------

@description('azd environment name; part of every resource name and the environment tag.')
@minLength(1)
@maxLength(40)
param environmentName string

@description('Primary region of every resource.')
param location string

@description('Second region (Cosmos DB replica, a second Function App, Front Door in front); empty for one region.')
param secondaryLocation string = ''

@description('Object id of the person or pipeline running azd (azd sets AZURE_PRINCIPAL_ID): it may write the Key Vault secrets.')
param principalId string = ''

@description('User or ServicePrincipal: the kind of principal principalId is.')
@allowed([
  'User'
  'ServicePrincipal'
])
param principalType string = 'User'

@description('Value of the cost-center tag.')
@minLength(1)
param costCenter string

@description('Value of the owner tag (a team or an address).')
@minLength(1)
param owner string

// --- Compute -------------------------------------------------------------------------------

@description('Durable backend: the Durable Task Scheduler (default) or the Azure Storage provider in the host storage account.')
@allowed([
  'durableTaskScheduler'
  'azureStorage'
])
param durableBackend string = 'durableTaskScheduler'

@description('Durable Task Scheduler SKU: Consumption (per action) or Dedicated (capacity units).')
@allowed([
  'Consumption'
  'Dedicated'
])
param schedulerSku string = 'Consumption'

@description('Flex Consumption instance memory in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Most instances the app may scale out to.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 100

@description('Always-ready instances for HTTP triggers.')
@minValue(0)
param alwaysReadyHttp int = 0

@description('Always-ready instances for orchestrations and activities.')
@minValue(0)
param alwaysReadyDurable int = 0

@description('Spread the Function App\'s instances over availability zones (the region must support it for Flex Consumption).')
param zoneRedundant bool = false

@description('Python worker processes per instance (FUNCTIONS_WORKER_PROCESS_COUNT); RATE_LIMITS is divided among them.')
@minValue(1)
@maxValue(10)
param workerProcessCount int = 1

// --- Data ----------------------------------------------------------------------------------

@description('Cosmos DB default consistency (docs/deploy.md, "Failover": what each means for the RPO).')
@allowed([
  'Session'
  'BoundedStaleness'
  'Strong'
])
param cosmosConsistencyLevel string = 'Session'

@description('Autoscale ceiling of the Cosmos DB database in RU/s.')
@minValue(1000)
param cosmosMaxThroughput int = 1000

@description('Redundancy of the data storage account (backups, reports, audit exports).')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_GZRS'
  'Standard_RAGZRS'
])
param dataStorageSku string = 'Standard_ZRS'

@description('Days an audit export cannot be changed or deleted (WORM, version-level).')
@minValue(1)
@maxValue(146000)
param auditExportRetentionDays int = 365

@description('Days the workspace keeps logs.')
@minValue(30)
@maxValue(730)
param logRetentionDays int = 30

// --- Model ---------------------------------------------------------------------------------

@description('Region of the Azure OpenAI account (model availability and quota vary by region).')
param openAiLocation string = location

@description('Model deployments: {name (agents.yaml deployment), model, version, skuName, capacity (thousands of tokens per minute)}.')
param openAiDeployments array = [
  {
    name: 'gpt-4o-mini'
    model: 'gpt-4o-mini'
    version: '2024-07-18'
    skuName: 'GlobalStandard'
    capacity: 50
  }
]

@description('Azure OpenAI REST API version the app calls (AZURE_OPENAI_API_VERSION).')
param openAiApiVersion string = '2024-10-21'

// --- App behaviour (app settings) ------------------------------------------------------------

@description('Items per activity (BATCH_SIZE).')
@minValue(1)
@maxValue(100)
param batchSize int = 64

@description('Items in flight within one activity (ITEM_CONCURRENCY).')
@minValue(1)
@maxValue(100)
param itemConcurrency int = 8

@description('Activities in flight per run (MAX_IN_FLIGHT).')
@minValue(1)
@maxValue(256)
param maxInFlight int = 8

@description('Items per sub-orchestration (CHUNK_SIZE).')
@minValue(10)
param chunkSize int = 5000

@description('Attempts per item (MAX_ATTEMPTS).')
@minValue(1)
@maxValue(20)
param maxAttempts int = 5

@description('Per deployment quota for pacing, {"gpt-4o-mini": {"rpm": 600, "tpm": 100000}} (RATE_LIMITS): match the capacities above.')
param rateLimits object = {}

@description('Daily limits per tenant, {"acme": {"tokens": ..., "cost": ...}} (TENANT_BUDGETS).')
param tenantBudgets object = {}

@description('Daily limits per agent (AGENT_BUDGETS).')
param agentBudgets object = {}

@description('Prices per deployment, {"gpt-4o-mini": {"input_per_1k": ..., "output_per_1k": ...}} (PRICES); empty: the built-in table.')
param prices object = {}

@description('NCRONTAB schedule of the hourly backup (BACKUP_SCHEDULE).')
param backupSchedule string = '0 5 * * * *'

@description('NCRONTAB schedule of the daily cost report (COST_REPORT_SCHEDULE).')
param costReportSchedule string = '0 15 0 * * *'

@description('NCRONTAB schedule of the daily compliance report (COMPLIANCE_REPORT_SCHEDULE).')
param complianceReportSchedule string = '0 30 0 * * *'

@description('Backups older than this many days are pruned (BACKUP_RETENTION_DAYS).')
@minValue(1)
param backupRetentionDays int = 30

@description('Every this many backups one is full (BACKUP_FULL_EVERY).')
@minValue(1)
@maxValue(1000)
param backupFullEvery int = 24

@description('IANA time zone of the compliance report\'s working hours (COMPLIANCE_TIMEZONE).')
param complianceTimezone string = 'UTC'

@description('Working hours, start-end (COMPLIANCE_WORK_HOURS).')
param complianceWorkHours string = '8-18'

@description('text or json log lines (LOG_FORMAT).')
@allowed([
  'text'
  'json'
])
param logFormat string = 'json'

@description('The address callers use, for URLs the app hands out (PUBLIC_BASE_URL), behind a custom domain; empty: Front Door\'s endpoint with a second region, else the app\'s own host name.')
param publicBaseUrl string = ''

// --- Security, governance, monitoring -------------------------------------------------------

@description('Private endpoints for Cosmos DB, Storage, Key Vault and OpenAI, and VNet integration; public access off on all four.')
param privateNetworking bool = false

@description('Assign the required-tag, encryption and network policies to the resource group.')
param assignPolicies bool = true

@description('Effect of the encryption and network policy assignments.')
@allowed([
  'Audit'
  'Deny'
  'Disabled'
])
param policyEffect string = 'Audit'

@description('E-mail the alerts notify; with actionGroupId empty, one of the two is needed.')
param alertEmail string = ''

@description('An existing action group for the alerts instead of alertEmail.')
param actionGroupId string = ''

// --- Names -----------------------------------------------------------------------------------

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'cost-center': costCenter
  environment: environmentName
  owner: owner
  application: 'agentops'
  'azd-env-name': environmentName
}
var twoRegions = !empty(secondaryLocation)
var privateStandby = twoRegions && privateNetworking
var onScheduler = durableBackend == 'durableTaskScheduler'
var taskHubName = 'agentops'
var databaseName = 'agentops'
var deploymentContainer = 'app-package'

// The store's containers, as agentops/store/containers.py declares them (tests/infra checks it).
var cosmosContainers = [
  {
    name: 'runs'
    partitionKey: '/run_id'
    defaultTtl: null
    compositeIndexes: [
      [
        { path: '/tenant_id', order: 'ascending' }
        { path: '/created_at', order: 'descending' }
        { path: '/id', order: 'descending' }
      ]
      [
        { path: '/created_at', order: 'descending' }
        { path: '/id', order: 'descending' }
      ]
    ]
  }
  {
    name: 'items'
    partitionKey: '/run_id'
    defaultTtl: null
    compositeIndexes: [
      [
        { path: '/completed_at', order: 'ascending' }
        { path: '/run_id', order: 'ascending' }
        { path: '/index', order: 'ascending' }
      ]
    ]
  }
  {
    name: 'threads'
    partitionKey: '/thread_id'
    defaultTtl: null
    compositeIndexes: []
  }
  {
    name: 'cache'
    partitionKey: '/key'
    defaultTtl: -1 // on, each entry carries its own ttl
    compositeIndexes: []
  }
  {
    name: 'usage'
    partitionKey: '/scope'
    defaultTtl: null
    compositeIndexes: []
  }
  {
    name: 'audit'
    partitionKey: '/tenant_id'
    defaultTtl: null
    compositeIndexes: [
      [
        { path: '/at', order: 'ascending' }
        { path: '/tenant_id', order: 'ascending' }
        { path: '/seq', order: 'ascending' }
      ]
    ]
  }
  {
    name: 'reports'
    partitionKey: '/kind'
    defaultTtl: null
    compositeIndexes: [
      [
        { path: '/kind', order: 'ascending' }
        { path: '/period_start', order: 'descending' }
        { path: '/id', order: 'descending' }
      ]
      [
        { path: '/period_start', order: 'descending' }
        { path: '/id', order: 'descending' }
      ]
    ]
  }
]

// The containers the app writes (agentops/backup/manifest.py, agentops/reports/service.py,
// agentops/runs/batch_mode_service.py), and the audit exports: WORM, written by operators, out
// of the app's reach (rbac.bicep).
var appBlobContainers = [
  'backups'
  'reports'
  'batch-rounds'
]
var dataBlobContainers = [
  {
    name: 'backups'
    immutabilityDays: 0 // retention prunes them: WORM would stop it
  }
  {
    name: 'reports'
    immutabilityDays: 0 // a report regenerated for a day replaces the earlier one
  }
  {
    name: 'batch-rounds'
    immutabilityDays: 0 // a re-executed collect rewrites its round's answers
  }
  {
    name: 'audit-exports'
    immutabilityDays: auditExportRetentionDays
  }
]

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

module policies 'modules/policy.bicep' = if (assignPolicies) {
  scope: rg
  name: 'policies'
  params: {
    effect: policyEffect
    privateNetworking: privateNetworking
  }
}

module identity 'modules/identity.bicep' = {
  scope: rg
  name: 'identity'
  params: {
    name: 'id-${resourceToken}'
    location: location
    tags: tags
  }
}

module logging 'modules/logging.bicep' = {
  scope: rg
  name: 'logging'
  params: {
    workspaceName: 'log-${resourceToken}'
    applicationInsightsName: 'appi-${resourceToken}'
    location: location
    tags: tags
    retentionInDays: logRetentionDays
  }
}

module network 'modules/network.bicep' = if (privateNetworking) {
  scope: rg
  name: 'network'
  params: {
    name: 'vnet-${resourceToken}'
    location: location
    tags: tags
  }
}

// The host's account (the package, timer leases, the Azure Storage durable backend; none of the
// app's data) stays reachable publicly, identity only: private endpoints for its blob, queue and
// table services are not built here (docs/deploy.md, "Network and governance").
module hostStorage 'modules/storage.bicep' = {
  scope: rg
  name: 'host-storage'
  params: {
    name: 'sth${resourceToken}'
    location: location
    tags: tags
    skuName: 'Standard_ZRS'
    containers: [
      {
        name: deploymentContainer
        immutabilityDays: 0
      }
    ]
    versioning: false // a package is replaced whole; rolling back is redeploying the previous commit
    softDeleteDays: 7
    workspaceId: logging.outputs.workspaceId
  }
}

module dataStorage 'modules/storage.bicep' = {
  scope: rg
  name: 'data-storage'
  params: {
    name: 'std${resourceToken}'
    location: location
    tags: tags
    skuName: dataStorageSku
    containers: dataBlobContainers
    versioning: true
    softDeleteDays: 30
    publicNetworkAccess: !privateNetworking
    workspaceId: logging.outputs.workspaceId
  }
}

module cosmos 'modules/cosmos.bicep' = {
  scope: rg
  name: 'cosmos'
  params: {
    name: 'cosmos-${resourceToken}'
    location: location
    secondaryLocation: secondaryLocation
    tags: tags
    consistencyLevel: cosmosConsistencyLevel
    databaseName: databaseName
    containers: cosmosContainers
    maxThroughput: cosmosMaxThroughput
    publicNetworkAccess: !privateNetworking
    workspaceId: logging.outputs.workspaceId
  }
}

module keyVault 'modules/keyvault.bicep' = {
  scope: rg
  name: 'key-vault'
  params: {
    name: 'kv-${resourceToken}'
    location: location
    tags: tags
    publicNetworkAccess: !privateNetworking
    workspaceId: logging.outputs.workspaceId
  }
}

module openAi 'modules/openai.bicep' = {
  scope: rg
  name: 'openai'
  params: {
    name: 'oai-${resourceToken}'
    location: openAiLocation
    tags: tags
    deployments: openAiDeployments
    publicNetworkAccess: !privateNetworking
    workspaceId: logging.outputs.workspaceId
  }
}

module scheduler 'modules/durable-task-scheduler.bicep' = if (onScheduler) {
  scope: rg
  name: 'durable-task-scheduler'
  params: {
    name: 'dts-${resourceToken}'
    location: location
    tags: tags
    taskHubName: taskHubName
    skuName: schedulerSku
  }
}

// The services every region's app reaches privately (the host storage accounts stay public,
// identity only: see storage.bicep).
var privateTargets = [
  {
    key: 'cosmos'
    targetId: cosmos.outputs.id
    groupId: 'Sql'
    zone: 'privatelink.documents.azure.com'
  }
  {
    key: 'blob'
    targetId: dataStorage.outputs.id
    groupId: 'blob'
    zone: 'privatelink.blob.${environment().suffixes.storage}'
  }
  {
    key: 'vault'
    targetId: keyVault.outputs.id
    groupId: 'vault'
    zone: 'privatelink.vaultcore.azure.net'
  }
  {
    key: 'openai'
    targetId: openAi.outputs.id
    groupId: 'account'
    zone: 'privatelink.openai.azure.com'
  }
]

module privateEndpoints 'modules/private-endpoints.bicep' = if (privateNetworking) {
  scope: rg
  name: 'private-endpoints'
  params: {
    location: location
    tags: tags
    vnetId: network.outputs.id
    subnetId: network.outputs.privateEndpointSubnetId
    endpoints: privateTargets
    nameSuffix: resourceToken
  }
}

// The standby region's network, endpoints and DNS zones, in a resource group of their own so that
// its zones point at its own endpoints and keep working while the primary region is down.
resource standbyRg 'Microsoft.Resources/resourceGroups@2024-03-01' = if (privateStandby) {
  name: 'rg-${environmentName}-standby'
  location: twoRegions ? secondaryLocation : location
  tags: tags
}

module standbyPolicies 'modules/policy.bicep' = if (privateStandby && assignPolicies) {
  scope: standbyRg
  name: 'standby-policies'
  params: {
    effect: policyEffect
    privateNetworking: privateNetworking
  }
}

module network2 'modules/network.bicep' = if (privateStandby) {
  scope: standbyRg
  name: 'network-2'
  params: {
    name: 'vnet2-${resourceToken}'
    location: twoRegions ? secondaryLocation : location
    tags: tags
    addressPrefix: '10.41.0.0/16'
    appSubnetPrefix: '10.41.1.0/24'
    privateEndpointSubnetPrefix: '10.41.2.0/24'
  }
}

module privateEndpoints2 'modules/private-endpoints.bicep' = if (privateStandby) {
  scope: standbyRg
  name: 'private-endpoints-2'
  params: {
    location: twoRegions ? secondaryLocation : location
    tags: tags
    vnetId: network2.outputs.id
    subnetId: network2.outputs.privateEndpointSubnetId
    endpoints: privateTargets
    nameSuffix: '2-${resourceToken}'
  }
}

module frontDoor 'modules/frontdoor.bicep' = if (twoRegions) {
  scope: rg
  name: 'front-door'
  params: {
    name: 'afd-${resourceToken}'
    tags: tags
    workspaceId: logging.outputs.workspaceId
  }
}

// Key Vault references: the platform resolves them with the app's identity and refreshes them;
// infra/scripts/seed-secrets.sh (an azd hook) writes each secret once, before the app starts.
var vaultName = keyVault.outputs.name
var baseUrl = !empty(publicBaseUrl) ? publicBaseUrl : twoRegions ? 'https://${frontDoor.outputs.hostName}' : ''

var appSettings = {
  AGENTOPS_STORE: 'cosmos'
  COSMOS_ENDPOINT: cosmos.outputs.endpoint
  COSMOS_DATABASE: databaseName
  BLOB_STORE: 'azure'
  BLOB_ACCOUNT_URL: dataStorage.outputs.blobEndpoint
  AZURE_CLIENT_ID: identity.outputs.clientId
  AZURE_OPENAI_ENDPOINT: openAi.outputs.endpoint
  AZURE_OPENAI_API_VERSION: openAiApiVersion
  KEY_VAULT_URL: keyVault.outputs.uri
  BACKUP_ENCRYPTION_KEY: '@Microsoft.KeyVault(VaultName=${vaultName};SecretName=backup-encryption-key)'
  CACHE_ENCRYPTION_KEY: '@Microsoft.KeyVault(VaultName=${vaultName};SecretName=cache-encryption-key)'
  DATA_ENCRYPTION_KEYS: '@Microsoft.KeyVault(VaultName=${vaultName};SecretName=data-encryption-keys)'
  TASKHUB_NAME: taskHubName
  BACKUP_SCHEDULE: backupSchedule
  COST_REPORT_SCHEDULE: costReportSchedule
  COMPLIANCE_REPORT_SCHEDULE: complianceReportSchedule
  BACKUP_RETENTION_DAYS: string(backupRetentionDays)
  BACKUP_FULL_EVERY: string(backupFullEvery)
  COMPLIANCE_TIMEZONE: complianceTimezone
  COMPLIANCE_WORK_HOURS: complianceWorkHours
  FLEX_INSTANCE_MEMORY_MB: string(instanceMemoryMB)
  FLEX_ALWAYS_READY_INSTANCES: string(alwaysReadyHttp + alwaysReadyDurable)
  FUNCTIONS_WORKER_PROCESS_COUNT: string(workerProcessCount)
  BATCH_SIZE: string(batchSize)
  ITEM_CONCURRENCY: string(itemConcurrency)
  MAX_IN_FLIGHT: string(maxInFlight)
  CHUNK_SIZE: string(chunkSize)
  MAX_ATTEMPTS: string(maxAttempts)
  RATE_LIMITS: string(rateLimits)
  TENANT_BUDGETS: string(tenantBudgets)
  AGENT_BUDGETS: string(agentBudgets)
  PRICES: string(prices)
  LOG_FORMAT: logFormat
  PUBLIC_BASE_URL: baseUrl
}

// The standby region runs no timers: both regions would otherwise back up and report the same
// hour into the same blobs. Failing over turns them on there (docs/deploy.md, "Failover").
var standbySettings = {
  'AzureWebJobs.hourly_backup.Disabled': 'true'
  'AzureWebJobs.cost_report.Disabled': 'true'
  'AzureWebJobs.compliance_report.Disabled': 'true'
}

module functionApp 'modules/functionapp.bicep' = {
  scope: rg
  name: 'function-app'
  params: {
    name: 'func-${resourceToken}'
    planName: 'plan-${resourceToken}'
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    hostStorageName: hostStorage.outputs.name
    hostBlobEndpoint: hostStorage.outputs.blobEndpoint
    hostQueueEndpoint: hostStorage.outputs.queueEndpoint
    hostTableEndpoint: hostStorage.outputs.tableEndpoint
    deploymentContainerName: deploymentContainer
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    alwaysReadyHttp: alwaysReadyHttp
    alwaysReadyDurable: alwaysReadyDurable
    zoneRedundant: zoneRedundant
    appSettings: appSettings
    durableBackend: durableBackend
    schedulerEndpoint: onScheduler ? scheduler.outputs.endpoint : ''
    applicationInsightsConnectionString: logging.outputs.connectionString
    subnetId: privateNetworking ? network.outputs.appSubnetId : ''
    frontDoorId: twoRegions ? frontDoor.outputs.frontDoorId : ''
    workspaceId: logging.outputs.workspaceId
  }
}

// --- Second region: its own host storage, scheduler and app; the same identity and data --------

module hostStorage2 'modules/storage.bicep' = if (twoRegions) {
  scope: rg
  name: 'host-storage-2'
  params: {
    name: 'sth2${take(resourceToken, 11)}'
    location: secondaryLocation
    tags: tags
    skuName: 'Standard_ZRS'
    containers: [
      {
        name: deploymentContainer
        immutabilityDays: 0
      }
    ]
    versioning: false
    softDeleteDays: 7
    workspaceId: logging.outputs.workspaceId
  }
}

module scheduler2 'modules/durable-task-scheduler.bicep' = if (twoRegions && onScheduler) {
  scope: rg
  name: 'durable-task-scheduler-2'
  params: {
    name: 'dts2-${resourceToken}'
    location: secondaryLocation
    tags: tags
    taskHubName: taskHubName
    skuName: schedulerSku
  }
}

module functionApp2 'modules/functionapp.bicep' = if (twoRegions) {
  scope: rg
  name: 'function-app-2'
  params: {
    name: 'func2-${resourceToken}'
    planName: 'plan2-${resourceToken}'
    location: secondaryLocation
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    hostStorageName: hostStorage2.outputs.name
    hostBlobEndpoint: hostStorage2.outputs.blobEndpoint
    hostQueueEndpoint: hostStorage2.outputs.queueEndpoint
    hostTableEndpoint: hostStorage2.outputs.tableEndpoint
    deploymentContainerName: deploymentContainer
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    alwaysReadyHttp: 0 // standby: cold until Front Door sends it traffic
    alwaysReadyDurable: 0
    zoneRedundant: false // standby: the zones matter once it takes traffic; turn on with the failover
    appSettings: union(appSettings, standbySettings, {
      FLEX_ALWAYS_READY_INSTANCES: '0'
    })
    durableBackend: durableBackend
    schedulerEndpoint: twoRegions && onScheduler ? scheduler2.outputs.endpoint : ''
    applicationInsightsConnectionString: logging.outputs.connectionString
    subnetId: privateStandby ? network2.outputs.appSubnetId : ''
    frontDoorId: frontDoor.outputs.frontDoorId
    workspaceId: logging.outputs.workspaceId
  }
}

module frontDoorOrigins 'modules/frontdoor-origins.bicep' = if (twoRegions) {
  scope: rg
  name: 'front-door-origins'
  params: {
    profileName: 'afd-${resourceToken}'
    originHostNames: [
      functionApp.outputs.defaultHostName
      functionApp2.outputs.defaultHostName
    ]
  }
  dependsOn: [
    frontDoor
  ]
}

module rbac 'modules/rbac.bicep' = {
  scope: rg
  name: 'rbac'
  params: {
    principalId: identity.outputs.principalId
    deployerPrincipalId: principalId
    deployerPrincipalType: principalType
    hostStorageNames: twoRegions ? [hostStorage.outputs.name, hostStorage2.outputs.name] : [hostStorage.outputs.name]
    durableOnStorage: !onScheduler
    dataStorageName: dataStorage.outputs.name
    appBlobContainers: appBlobContainers
    cosmosAccountName: cosmos.outputs.name
    cosmosDatabaseName: cosmos.outputs.databaseName
    keyVaultName: keyVault.outputs.name
    openAiName: openAi.outputs.name
    applicationInsightsName: logging.outputs.applicationInsightsName
    schedulerNames: !onScheduler ? [] : twoRegions ? [scheduler.outputs.name, scheduler2.outputs.name] : [scheduler.outputs.name]
  }
}

module alerts 'monitoring/alerts.bicep' = {
  scope: rg
  name: 'alerts'
  params: {
    location: location
    namePrefix: 'agentops-${environmentName}'
    applicationInsightsId: logging.outputs.applicationInsightsId
    functionAppId: functionApp.outputs.id
    instanceMemoryMB: instanceMemoryMB
    actionGroupId: actionGroupId
    alertEmail: alertEmail
    tags: tags
  }
}

module workbook 'monitoring/workbook.bicep' = {
  scope: rg
  name: 'workbook'
  params: {
    location: location
    applicationInsightsId: logging.outputs.applicationInsightsId
    tags: tags
  }
}

// --- Outputs: azd stores them in the environment (.azure/<env>/.env) -------------------------

@description('Resource group of the deployment.')
output AZURE_RESOURCE_GROUP string = rg.name

@description('Tenant of the deployment.')
output AZURE_TENANT_ID string = tenant().tenantId

@description('Region of the deployment.')
output AZURE_LOCATION string = location

@description('Client id of the app\'s identity.')
output AZURE_CLIENT_ID string = identity.outputs.clientId

@description('Name of the Function App (primary region).')
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name

@description('Name of the standby Function App; empty with one region.')
output AZURE_FUNCTION_APP_NAME_SECONDARY string = twoRegions ? functionApp2.outputs.name : ''

@description('Where callers reach the API.')
output SERVICE_API_URI string = !empty(baseUrl) ? baseUrl : 'https://${functionApp.outputs.defaultHostName}'

@description('Cosmos DB endpoint (COSMOS_ENDPOINT).')
output COSMOS_ENDPOINT string = cosmos.outputs.endpoint

@description('Cosmos DB database (COSMOS_DATABASE).')
output COSMOS_DATABASE string = databaseName

@description('Blob endpoint of the data account (BLOB_ACCOUNT_URL).')
output BLOB_ACCOUNT_URL string = dataStorage.outputs.blobEndpoint

@description('Name of the data storage account.')
output AZURE_STORAGE_ACCOUNT_NAME string = dataStorage.outputs.name

@description('Key Vault URI (KEY_VAULT_URL).')
output KEY_VAULT_URL string = keyVault.outputs.uri

@description('Key Vault name, for infra/scripts/seed-secrets.sh.')
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name

@description('Azure OpenAI endpoint (AZURE_OPENAI_ENDPOINT).')
output AZURE_OPENAI_ENDPOINT string = openAi.outputs.endpoint

@description('Durable task hub (TASKHUB_NAME).')
output TASKHUB_NAME string = taskHubName

@description('Application Insights connection string.')
output APPLICATIONINSIGHTS_CONNECTION_STRING string = logging.outputs.connectionString
