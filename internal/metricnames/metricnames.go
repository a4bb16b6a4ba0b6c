// Package metricnames names the metrics that one component exposes and
// another reads: deploy's status page and watcher read the edge's, the
// DNS's, the steering service's and the origin's from their /metrics. Both sides use these
// constants, so that renaming a metric or a label breaks the build rather
// than the status page.
package metricnames

// Metric names.
const (
	EdgeRequests    = "streamcdn_edge_requests_total"            // labels: cache, code_class
	EdgeBodyBytes   = "streamcdn_edge_response_body_bytes_total" // labels: cache
	DNSAnswers      = "streamcdn_dns_answers_total"              // labels: cluster, reason
	DNSClusterUp    = "streamcdn_dns_cluster_up"                 // labels: cluster
	OriginRequests  = "streamcdn_origin_requests_total"          // labels: method, code_class
	OriginBodyBytes = "streamcdn_origin_response_body_bytes_total"
	SteerAnswers    = "streamcdn_steer_answers_total" // labels: kind, edge, reason
)

// Label names.
const (
	Cache     = "cache"
	CodeClass = "code_class"
	Cluster   = "cluster"
	Reason    = "reason"
	Method    = "method"
	Edge      = "edge"
	Kind      = "kind"
)

// Values of the edge's cache label that count as hits in a hit ratio.
const (
	CacheHit         = "hit"
	CachePinned      = "pinned"
	CacheRevalidated = "revalidated"
)
