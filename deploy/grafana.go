package deploy

import _ "embed"

// Dashboard is a Grafana dashboard (grafana/streamcdn.json) of the
// metrics every component exports: requests, hit ratio and egress by
// region, origin offload, DNS answers by cluster and deciding policy,
// cluster health, WAN traffic, cache tiers and pushes. Import it with a
// Prometheus data source that scrapes a deployment.
//
//go:embed grafana/streamcdn.json
var Dashboard []byte
