// Front Door (Standard) in front of the Function Apps of both regions: the profile and its endpoint.
// Origins and the route are in frontdoor-origins.bicep, deployed after the apps, because the apps
// need this endpoint's host name (PUBLIC_BASE_URL) and profile id (X-Azure-FDID) first.

metadata description = 'agentops Front Door profile and endpoint'

@description('Name of the Front Door profile.')
param name string

@description('Tags for every resource.')
param tags object

@description('Resource id of the Log Analytics workspace for diagnostic settings.')
param workspaceId string

resource profile 'Microsoft.Cdn/profiles@2024-02-01' = {
  name: name
  location: 'global'
  tags: tags
  sku: {
    name: 'Standard_AzureFrontDoor'
  }
  properties: {
    originResponseTimeoutSeconds: 60 // the synchronous ask route may wait on the model
  }
}

resource endpoint 'Microsoft.Cdn/profiles/afdEndpoints@2024-02-01' = {
  parent: profile
  name: name
  location: 'global'
  tags: tags
  properties: {
    enabledState: 'Enabled'
  }
}

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: profile
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

@description('Front Door id that requests carry in X-Azure-FDID: the apps admit only this one.')
output frontDoorId string = profile.properties.frontDoorId

@description('Host name of the endpoint, <name>-<hash>.z01.azurefd.net.')
output hostName string = endpoint.properties.hostName
