// Log Analytics and a workspace-based Application Insights component. Local (instrumentation key)
// authentication is off: only Entra ID tokens with Monitoring Metrics Publisher can ingest, so the
// connection string alone is not a credential (rbac.bicep grants the app's identity that role).

metadata description = 'agentops Log Analytics workspace and Application Insights'

@description('Name of the Log Analytics workspace.')
param workspaceName string

@description('Name of the Application Insights component.')
param applicationInsightsName string

@description('Region of both resources.')
param location string

@description('Tags for both resources.')
param tags object

@description('Days the workspace keeps logs (30 is included in the ingestion price; more is billed per GB and month).')
@minValue(30)
@maxValue(730)
param retentionInDays int = 30

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: workspaceName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: retentionInDays
    features: {
      disableLocalAuth: true // queries and ingestion with Entra ID only
    }
  }
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: applicationInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    DisableLocalAuth: true // the app's identity publishes (APPLICATIONINSIGHTS_AUTHENTICATION_STRING)
    IngestionMode: 'LogAnalytics'
  }
}

@description('Resource id of the Log Analytics workspace, for diagnostic settings.')
output workspaceId string = workspace.id

@description('Resource id of the Application Insights component.')
output applicationInsightsId string = applicationInsights.id

@description('Name of the Application Insights component.')
output applicationInsightsName string = applicationInsights.name

@description('Connection string of the component (not a secret with local auth off).')
output connectionString string = applicationInsights.properties.ConnectionString
