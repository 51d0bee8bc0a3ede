// Cosmos DB for NoSQL: the account, the database and every container the store uses. The
// containers are created here and never by the app (a data-plane role cannot create them); their
// names, partition keys, TTL and composite indexes follow agentops/store/containers.py, which
// tests/infra checks against main.bicep's list.

metadata description = 'agentops Cosmos DB account, database and containers'

@description('Name of the account.')
param name string

@description('The write region.')
param location string

@description('A read region for geo-replication, with service-managed failover; empty for one region.')
param secondaryLocation string = ''

@description('Tags for every resource.')
param tags object

@description('Default consistency. Session: read-your-writes per client, RPO up to 15 minutes on a region loss. BoundedStaleness: RPO within the staleness bound. Strong: RPO 0, each write waits for the secondary region.')
@allowed([
  'Session'
  'BoundedStaleness'
  'Strong'
])
param consistencyLevel string = 'Session'

@description('Database name (COSMOS_DATABASE).')
param databaseName string

@description('Containers: {name, partitionKey, defaultTtl (null: off, -1: per document), compositeIndexes}.')
param containers array

@description('Autoscale ceiling of the database\'s shared throughput in RU/s (it scales between 10% and this).')
@minValue(1000)
param maxThroughput int = 1000

@description('Continuous backup tier: 7 or 30 days of point-in-time restore.')
@allowed([
  'Continuous7Days'
  'Continuous30Days'
])
param backupTier string = 'Continuous30Days'

@description('True: reachable from public networks (identity still required). False: private endpoints only.')
param publicNetworkAccess bool = true

@description('Resource id of the Log Analytics workspace for diagnostic settings.')
param workspaceId string

var primaryRegion = [
  {
    locationName: location
    failoverPriority: 0
    isZoneRedundant: false
  }
]
var secondaryRegion = [
  {
    locationName: secondaryLocation
    failoverPriority: 1
    isZoneRedundant: false
  }
]
var regions = empty(secondaryLocation) ? primaryRegion : concat(primaryRegion, secondaryRegion)

var boundedStaleness = {
  defaultConsistencyLevel: 'BoundedStaleness'
  maxIntervalInSeconds: 300 // the smallest bound Azure allows on a multi-region account
  maxStalenessPrefix: 100000
}
var consistencyPolicy = consistencyLevel == 'BoundedStaleness' ? boundedStaleness : { defaultConsistencyLevel: consistencyLevel }

resource account 'Microsoft.DocumentDB/databaseAccounts@2024-11-15' = {
  // checkov:skip=CKV_AZURE_101: public access is a parameter, Disabled with privateNetworking; otherwise keys are off (disableLocalAuth) and only the app's identity has a data role
  name: name
  location: location
  tags: tags
  kind: 'GlobalDocumentDB'
  properties: {
    databaseAccountOfferType: 'Standard'
    locations: regions
    consistencyPolicy: consistencyPolicy
    enableAutomaticFailover: !empty(secondaryLocation) // service-managed failover of the write region
    enableMultipleWriteLocations: false // one write region: the app's etag-guarded updates stay simple
    disableLocalAuth: true // Entra ID only: the app's identity, never COSMOS_KEY
    disableKeyBasedMetadataWriteAccess: true // containers change through ARM (this file) only
    minimalTlsVersion: 'Tls12'
    publicNetworkAccess: publicNetworkAccess ? 'Enabled' : 'Disabled'
    isVirtualNetworkFilterEnabled: false
    networkAclBypass: 'None'
    backupPolicy: {
      type: 'Continuous' // point-in-time restore to a new account (docs/deploy.md)
      continuousModeProperties: {
        tier: backupTier
      }
    }
  }
}

resource database 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases@2024-11-15' = {
  parent: account
  name: databaseName
  tags: tags
  properties: {
    resource: {
      id: databaseName
    }
    options: {
      autoscaleSettings: {
        maxThroughput: maxThroughput
      }
    }
  }
}

resource sqlContainers 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers@2024-11-15' = [
  for container in containers: {
    parent: database
    name: container.name
    tags: tags
    properties: {
      resource: union({
          id: container.name
          partitionKey: {
            paths: [
              container.partitionKey
            ]
            kind: 'Hash'
            version: 2
          }
          indexingPolicy: {
            indexingMode: 'consistent'
            automatic: true
            includedPaths: [
              {
                path: '/*'
              }
            ]
            excludedPaths: [
              {
                path: '/"_etag"/?'
              }
            ]
            compositeIndexes: container.compositeIndexes
          }
        }, container.defaultTtl == null ? {} : { defaultTtl: container.defaultTtl })
    }
  }
]

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: account
  properties: {
    workspaceId: workspaceId
    logAnalyticsDestinationType: 'Dedicated' // resource-specific tables (CDBDataPlaneRequests...)
    logs: [
      {
        categoryGroup: 'allLogs'
        enabled: true
      }
    ]
    metrics: [
      {
        category: 'Requests'
        enabled: true
      }
    ]
  }
}

@description('Resource id of the account.')
output id string = account.id

@description('Name of the account.')
output name string = account.name

@description('Document endpoint (COSMOS_ENDPOINT).')
output endpoint string = account.properties.documentEndpoint

@description('Name of the database.')
output databaseName string = database.name
