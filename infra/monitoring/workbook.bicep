// The agentops workbook: the production guide's metrics and the batch-run figures, on the
// Application Insights component. workbook.json is built from queries/ by build_workbook.py (run it
// after changing a query; the tests fail while it is stale). Deployed on its own (README,
// "Monitoring in the portal") or composed by infra/main.bicep.

metadata description = 'agentops Azure Monitor workbook'

@description('Region of the workbook resource.')
param location string = resourceGroup().location

@description('Resource id of the Application Insights component the app exports to; the workbook is attached to it and queries it.')
param applicationInsightsId string

@description('Name shown in the portal\'s workbook gallery.')
param displayName string = 'agentops: batch runs in production'

@description('Tags for the workbook resource.')
param tags object = {}

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  // A workbook's name must be a GUID; derived, so that redeploying updates the same workbook.
  name: guid(resourceGroup().id, applicationInsightsId, 'agentops-workbook')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: displayName
    category: 'workbook'
    sourceId: applicationInsightsId
    version: 'Notebook/1.0'
    serializedData: replace(loadTextContent('workbook.json'), '__APPLICATION_INSIGHTS_ID__', applicationInsightsId)
  }
}

@description('Resource id of the workbook.')
output WORKBOOK_ID string = workbook.id
