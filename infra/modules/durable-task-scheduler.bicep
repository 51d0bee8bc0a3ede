// The Durable Task Scheduler and the app's task hub: the default durable backend. Orchestration
// history lives here, not in the host's storage account; the app connects with its identity
// (Durable Task Data Contributor, rbac.bicep) through DURABLE_TASK_SCHEDULER_CONNECTION_STRING.

metadata description = 'agentops Durable Task Scheduler and task hub'

@description('Name of the scheduler.')
param name string

@description('Region of the scheduler; the Function App\'s region keeps every orchestration step local.')
param location string

@description('Tags for the scheduler.')
param tags object

@description('Name of the task hub (TASKHUB_NAME).')
param taskHubName string

@description('Consumption: billed per action. Dedicated: reserved capacity units, zone redundancy with 3.')
@allowed([
  'Consumption'
  'Dedicated'
])
param skuName string = 'Consumption'

@description('Capacity units of a Dedicated scheduler (ignored for Consumption).')
@minValue(1)
param capacity int = 1

@description('Address ranges (CIDR) allowed to call the scheduler. An empty list denies every caller, so a public Flex Consumption app needs 0.0.0.0/0; access still requires the identity\'s role.')
param ipAllowlist array = [
  '0.0.0.0/0'
]

var dedicated = {
  name: 'Dedicated'
  capacity: capacity
}
var consumption = {
  name: 'Consumption'
}

resource scheduler 'Microsoft.DurableTask/schedulers@2025-11-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    ipAllowlist: ipAllowlist
    sku: skuName == 'Dedicated' ? dedicated : consumption
  }
}

resource taskHub 'Microsoft.DurableTask/schedulers/taskHubs@2025-11-01' = {
  parent: scheduler
  name: taskHubName
}

@description('Resource id of the scheduler.')
output id string = scheduler.id

@description('Name of the scheduler.')
output name string = scheduler.name

@description('gRPC endpoint of the scheduler, for the connection string.')
output endpoint string = scheduler.properties.endpoint

@description('Name of the task hub.')
output taskHubName string = taskHub.name
