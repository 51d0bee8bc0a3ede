// The optional virtual network: one subnet for the Function App's outbound traffic (VNet
// integration) and one for the private endpoints of Cosmos DB, Storage, Key Vault and OpenAI.
// The security rules let HTTPS through where it is needed and deny the rest (not the production
// guide's "AzureCloud on all ports" inbound rule, which would admit any Azure tenant's traffic).

metadata description = 'agentops virtual network, subnets and network security groups'

@description('Name of the virtual network.')
param name string

@description('Region of the network (the Function App\'s region).')
param location string

@description('Tags for every resource.')
param tags object

@description('Address space of the network.')
param addressPrefix string = '10.40.0.0/16'

@description('Subnet of the Function App (delegated to Microsoft.App/environments, as Flex Consumption requires).')
param appSubnetPrefix string = '10.40.1.0/24'

@description('Subnet of the private endpoints.')
param privateEndpointSubnetPrefix string = '10.40.2.0/24'

resource appNsg 'Microsoft.Network/networkSecurityGroups@2024-05-01' = {
  name: '${name}-app-nsg'
  location: location
  tags: tags
  properties: {
    securityRules: [
      // Nothing enters through this subnet: callers reach the app on its public HTTPS endpoint.
      {
        name: 'deny-all-inbound'
        properties: {
          priority: 4096
          direction: 'Inbound'
          access: 'Deny'
          protocol: '*'
          sourceAddressPrefix: '*'
          sourcePortRange: '*'
          destinationAddressPrefix: '*'
          destinationPortRange: '*'
        }
      }
      {
        name: 'https-to-private-endpoints'
        properties: {
          priority: 100
          direction: 'Outbound'
          access: 'Allow'
          protocol: 'Tcp'
          sourceAddressPrefix: appSubnetPrefix
          sourcePortRange: '*'
          destinationAddressPrefix: privateEndpointSubnetPrefix
          destinationPortRange: '443'
        }
      }
      // Entra ID, Azure Monitor and the Durable Task Scheduler (no private endpoint here): HTTPS only.
      {
        name: 'https-to-azure'
        properties: {
          priority: 110
          direction: 'Outbound'
          access: 'Allow'
          protocol: 'Tcp'
          sourceAddressPrefix: appSubnetPrefix
          sourcePortRange: '*'
          destinationAddressPrefix: 'AzureCloud'
          destinationPortRange: '443'
        }
      }
      {
        name: 'deny-all-outbound'
        properties: {
          priority: 4096
          direction: 'Outbound'
          access: 'Deny'
          protocol: '*'
          sourceAddressPrefix: '*'
          sourcePortRange: '*'
          destinationAddressPrefix: '*'
          destinationPortRange: '*'
        }
      }
    ]
  }
}

resource privateEndpointNsg 'Microsoft.Network/networkSecurityGroups@2024-05-01' = {
  name: '${name}-pe-nsg'
  location: location
  tags: tags
  properties: {
    securityRules: [
      {
        name: 'https-from-app'
        properties: {
          priority: 100
          direction: 'Inbound'
          access: 'Allow'
          protocol: 'Tcp'
          sourceAddressPrefix: appSubnetPrefix
          sourcePortRange: '*'
          destinationAddressPrefix: privateEndpointSubnetPrefix
          destinationPortRange: '443'
        }
      }
      {
        name: 'deny-all-inbound'
        properties: {
          priority: 4096
          direction: 'Inbound'
          access: 'Deny'
          protocol: '*'
          sourceAddressPrefix: '*'
          sourcePortRange: '*'
          destinationAddressPrefix: '*'
          destinationPortRange: '*'
        }
      }
    ]
  }
}

resource vnet 'Microsoft.Network/virtualNetworks@2024-05-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    addressSpace: {
      addressPrefixes: [
        addressPrefix
      ]
    }
    subnets: [
      {
        name: 'app'
        properties: {
          addressPrefix: appSubnetPrefix
          networkSecurityGroup: {
            id: appNsg.id
          }
          delegations: [
            {
              name: 'flex-consumption'
              properties: {
                serviceName: 'Microsoft.App/environments'
              }
            }
          ]
        }
      }
      {
        name: 'private-endpoints'
        properties: {
          addressPrefix: privateEndpointSubnetPrefix
          networkSecurityGroup: {
            id: privateEndpointNsg.id
          }
          privateEndpointNetworkPolicies: 'Enabled' // so that the NSG applies to the endpoints
        }
      }
    ]
  }
}

@description('Resource id of the virtual network.')
output id string = vnet.id

@description('Resource id of the Function App\'s subnet.')
output appSubnetId string = vnet.properties.subnets[0].id

@description('Resource id of the private endpoints\' subnet.')
output privateEndpointSubnetId string = vnet.properties.subnets[1].id
