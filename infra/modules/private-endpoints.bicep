// Private endpoints, with their private DNS zones linked to the network, so that the app resolves
// each service's usual host name to its private address. One instance per region, each in its own
// resource group: a private DNS zone is global and its records name one endpoint's address, so a
// region whose endpoints must keep working when the other region is down needs zones of its own.

metadata description = 'agentops private endpoints and private DNS zones'

@description('Region of the endpoints (the network\'s).')
param location string

@description('Tags for every resource.')
param tags object

@description('Resource id of the virtual network the zones are linked to.')
param vnetId string

@description('Resource id of the subnet the endpoints are placed in.')
param subnetId string

@description('Endpoints: {key, targetId, groupId (blob, queue, table, Sql, vault, account), zone (privatelink.*)}; one zone each, so no two may share a zone.')
param endpoints array

@description('Suffix of the endpoint names (pe-<key>-<suffix>).')
param nameSuffix string

resource dnsZones 'Microsoft.Network/privateDnsZones@2020-06-01' = [
  for endpoint in endpoints: {
    name: endpoint.zone
    location: 'global'
    tags: tags
  }
]

resource links 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2020-06-01' = [
  for (endpoint, i) in endpoints: {
    parent: dnsZones[i]
    name: 'vnet'
    location: 'global'
    tags: tags
    properties: {
      registrationEnabled: false
      virtualNetwork: {
        id: vnetId
      }
    }
  }
]

resource privateEndpoints 'Microsoft.Network/privateEndpoints@2024-05-01' = [
  for endpoint in endpoints: {
    name: 'pe-${endpoint.key}-${nameSuffix}'
    location: location
    tags: tags
    properties: {
      subnet: {
        id: subnetId
      }
      privateLinkServiceConnections: [
        {
          name: 'pe-${endpoint.key}-${nameSuffix}'
          properties: {
            privateLinkServiceId: endpoint.targetId
            groupIds: [
              endpoint.groupId
            ]
          }
        }
      ]
    }
  }
]

resource zoneGroups 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2024-05-01' = [
  for (endpoint, i) in endpoints: {
    parent: privateEndpoints[i]
    name: 'default'
    properties: {
      privateDnsZoneConfigs: [
        {
          name: replace(endpoint.zone, '.', '-')
          properties: {
            privateDnsZoneId: dnsZones[i].id
          }
        }
      ]
    }
  }
]
