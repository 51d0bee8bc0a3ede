// The app's user-assigned managed identity: one principal for every data-plane role (rbac.bicep),
// kept apart from the Function App so that it outlives a redeployed or second-region app.

metadata description = 'agentops user-assigned managed identity'

@description('Name of the identity.')
param name string

@description('Region of the identity.')
param location string

@description('Tags for the identity.')
param tags object

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

@description('Resource id of the identity.')
output id string = identity.id

@description('Client id (AZURE_CLIENT_ID for the app, ClientID= in connection strings).')
output clientId string = identity.properties.clientId

@description('Object id of the identity\'s service principal, for role assignments.')
output principalId string = identity.properties.principalId
