// Alerts for the agentops Function App: the production guide's three, done so that they measure
// what they claim, plus failed batch runs and an open circuit breaker. Every query is a file in
// queries/, loaded here, tested against the metric registry (agentops/instruments.py).
// Deployed on its own (README, "Monitoring in the portal") or composed by infra/main.bicep.

metadata description = 'agentops alert rules and their action group'

@description('Region of the log alert rules; the Application Insights component\'s region is a good choice.')
param location string = resourceGroup().location

@description('Prefix of the alert rule and action group names.')
@minLength(1)
@maxLength(40)
param namePrefix string = 'agentops'

@description('Resource id of the Application Insights component the app exports to. The log alerts query its requests and customMetrics tables (for a workspace-based component they live in its Log Analytics workspace, which Azure reads through the component).')
param applicationInsightsId string

@description('Resource id of the Function App (Microsoft.Web/sites on a Flex Consumption plan), for the memory alert.')
param functionAppId string

@description('Instance memory of the Flex Consumption plan in MB (functionAppConfig.scaleAndConcurrency.instanceMemoryMB): the memory alert fires at 85% of it.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Resource id of an existing action group to notify. Leave empty to have this module create one for alertEmail.')
param actionGroupId string = ''

@description('E-mail address the created action group notifies; required when actionGroupId is empty.')
param alertEmail string = ''

@description('Tags for every resource this module creates.')
param tags object = {}

// 85% of the instance's memory, in bytes as MemoryWorkingSet reports it.
var memoryThresholdBytes = instanceMemoryMB * 1024 * 1024 * 85 / 100
var createActionGroup = empty(actionGroupId)

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = if (createActionGroup) {
  name: '${namePrefix}-oncall'
  location: 'global' // action groups are global resources
  tags: tags
  properties: {
    groupShortName: take('${namePrefix}oncall', 12) // Azure's limit for the SMS/e-mail sender name
    enabled: true
    emailReceivers: [
      {
        name: 'oncall-email'
        emailAddress: alertEmail
        useCommonAlertSchema: true // one payload shape for log and metric alerts
      }
    ]
  }
}

var actionGroupIds = [createActionGroup ? actionGroup.id : actionGroupId]

// Error rate: failed over all API requests, above 5% in a 5-minute window (a ratio, not a count,
// so that it means the same at 10 requests a minute and at 10,000).
resource errorRateAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: '${namePrefix}-error-rate'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: '${namePrefix}: HTTP error rate above 5%'
    description: 'More than 5% of the HTTP API\'s requests failed (5xx or unhandled) over the last 5 minutes, with at least 20 requests. Health probes are not counted.'
    severity: 1
    enabled: true
    scopes: [
      applicationInsightsId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT5M'
    criteria: {
      allOf: [
        {
          query: loadTextContent('queries/alert-error-rate.kql')
          timeAggregation: 'Maximum'
          metricMeasureColumn: 'error_rate_pct'
          operator: 'GreaterThan'
          threshold: 5
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true // resolves itself when the rate falls back
    actions: {
      actionGroups: actionGroupIds
    }
  }
}

// Latency: p99 over 5 s across a 10-minute window. A log query, since custom metrics carry sums
// and counts but no percentiles.
resource p99DurationAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: '${namePrefix}-p99-duration'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: '${namePrefix}: p99 request duration above 5 s'
    description: 'The 99th percentile of the HTTP API\'s request durations over the last 10 minutes is above 5 seconds (at least 20 requests).'
    severity: 2
    enabled: true
    scopes: [
      applicationInsightsId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT10M'
    criteria: {
      allOf: [
        {
          query: loadTextContent('queries/alert-p99-duration.kql')
          timeAggregation: 'Maximum'
          metricMeasureColumn: 'p99_ms'
          operator: 'GreaterThan'
          threshold: 5000
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: actionGroupIds
    }
  }
}

// Failed batch runs, one alert per agent.
resource failedRunsAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: '${namePrefix}-failed-runs'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: '${namePrefix}: batch runs failed'
    description: 'At least one batch run finished with status failed in the last 5 minutes (agentops.runs.finished), per agent.'
    severity: 2
    enabled: true
    scopes: [
      applicationInsightsId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT5M'
    criteria: {
      allOf: [
        {
          query: loadTextContent('queries/alert-failed-runs.kql')
          timeAggregation: 'Total'
          metricMeasureColumn: 'failed_runs'
          dimensions: [
            {
              name: 'agent'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: actionGroupIds
    }
  }
}

// An open circuit breaker: the model deployment is failing and calls to it are being refused.
resource breakerOpenAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: '${namePrefix}-breaker-open'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: '${namePrefix}: circuit breaker open'
    description: 'A worker reported the circuit breaker of a model deployment open in the last 5 minutes (agentops.breaker.state at 2, or a transition to open), per deployment.'
    severity: 1
    enabled: true
    scopes: [
      applicationInsightsId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT5M'
    criteria: {
      allOf: [
        {
          query: loadTextContent('queries/alert-breaker-open.kql')
          timeAggregation: 'Total'
          metricMeasureColumn: 'open_reports'
          dimensions: [
            {
              name: 'deployment'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: actionGroupIds
    }
  }
}

// Memory: any instance's working set above 85% of the instance memory for 5 minutes. A platform
// metric of the Function App; on Flex Consumption, MemoryWorkingSet per Instance is what exists
// (there is no memory percentage metric for Microsoft.Web/sites).
resource memoryAlert 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: '${namePrefix}-memory'
  location: 'global' // metric alerts are global resources
  tags: tags
  properties: {
    description: 'An instance\'s memory working set averaged above 85% of the plan\'s instance memory (${instanceMemoryMB} MB) over 5 minutes.'
    severity: 2
    enabled: true
    scopes: [
      functionAppId
    ]
    evaluationFrequency: 'PT1M'
    windowSize: 'PT5M'
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          criterionType: 'StaticThresholdCriterion'
          name: 'memory-working-set'
          metricNamespace: 'Microsoft.Web/sites'
          metricName: 'MemoryWorkingSet'
          dimensions: [
            {
              name: 'Instance'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          timeAggregation: 'Average'
          operator: 'GreaterThan'
          threshold: memoryThresholdBytes
        }
      ]
    }
    autoMitigate: true
    actions: [
      for id in actionGroupIds: {
        actionGroupId: id
      }
    ]
  }
}

@description('The action group the alerts notify.')
output ACTION_GROUP_ID string = actionGroupIds[0]

@description('Resource ids of the alert rules, by name.')
output ALERT_RULE_IDS object = {
  errorRate: errorRateAlert.id
  p99Duration: p99DurationAlert.id
  failedRuns: failedRunsAlert.id
  breakerOpen: breakerOpenAlert.id
  memory: memoryAlert.id
}
