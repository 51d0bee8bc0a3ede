// Front Door's origin group (both Function Apps, health-probed on /api/health/ready), and the
// route. Priority 1 is the primary region; the secondary (priority 2) receives traffic only while
// the primary's probes fail: active-passive, since a run's orchestration lives in one region.

metadata description = 'agentops Front Door origins and route'

@description('Name of the Front Door profile (frontdoor.bicep).')
param profileName string

@description('Host names of the Function Apps, primary first.')
param originHostNames array

@description('Seconds between health probes from each Front Door point of presence.')
@minValue(5)
@maxValue(255)
param probeIntervalInSeconds int = 30

resource profile 'Microsoft.Cdn/profiles@2024-02-01' existing = {
  name: profileName
}

resource endpoint 'Microsoft.Cdn/profiles/afdEndpoints@2024-02-01' existing = {
  parent: profile
  name: profileName
}

resource originGroup 'Microsoft.Cdn/profiles/originGroups@2024-02-01' = {
  parent: profile
  name: 'functions'
  properties: {
    healthProbeSettings: {
      probePath: '/api/health/ready' // ready: the store, blobs and model answer, not only the host
      probeProtocol: 'Https'
      probeRequestType: 'GET'
      probeIntervalInSeconds: probeIntervalInSeconds
    }
    loadBalancingSettings: {
      sampleSize: 4
      successfulSamplesRequired: 3 // an origin is out after two failed probes of four
      additionalLatencyInMilliseconds: 0
    }
    sessionAffinityState: 'Disabled'
  }
}

resource origins 'Microsoft.Cdn/profiles/originGroups/origins@2024-02-01' = [
  for (hostName, i) in originHostNames: {
    parent: originGroup
    name: 'region-${i + 1}'
    properties: {
      hostName: hostName
      originHostHeader: hostName
      httpsPort: 443
      httpPort: 80
      priority: i + 1
      weight: 1000
      enabledState: 'Enabled'
      enforceCertificateNameCheck: true
    }
  }
]

resource route 'Microsoft.Cdn/profiles/afdEndpoints/routes@2024-02-01' = {
  parent: endpoint
  name: 'api'
  dependsOn: [
    origins // a route needs an origin in its group
  ]
  properties: {
    originGroup: {
      id: originGroup.id
    }
    supportedProtocols: [
      'Http' // only to be redirected
      'Https'
    ]
    patternsToMatch: [
      '/*'
    ]
    forwardingProtocol: 'HttpsOnly'
    httpsRedirect: 'Enabled'
    linkToDefaultDomain: 'Enabled'
    enabledState: 'Enabled'
  }
}
