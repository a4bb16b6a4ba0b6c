// Package dnsapi is the wire format of the CDN DNS's admin API that edges
// report to, shared by cdndns (which serves it) and the edge (which
// calls it): client RTTs measured on the edge's connections, and the
// egress load of each edge node. Both are JSON arrays POSTed with the
// admin bearer token; the DNS applies a batch whole or refuses it whole
// (400) and answers Accepted.
package dnsapi

// Paths under the DNS's admin URL.
const (
	RTTPath  = "/rtt"
	LoadPath = "/load"
)

// RTTReport is a client network's RTT to a cluster: the smoothed RTT of
// a connection from Client (an address in the network), as an edge of
// Cluster measured it.
type RTTReport struct {
	Cluster string  `json:"cluster"`
	Client  string  `json:"client"`
	RTTMs   float64 `json:"rtt_ms"` // 0 < RTTMs <= MaxRTTMs
}

// MaxRTTMs bounds a reported RTT.
const MaxRTTMs = 60_000

// LoadReport is a node's egress, in Mb/s, or a whole cluster's when Node
// is empty; a cluster's load is the sum of its nodes' last reports.
type LoadReport struct {
	Cluster string  `json:"cluster"`
	Node    string  `json:"node,omitempty"`
	Load    float64 `json:"load"`
}

// Accepted is the DNS's answer to a batch it applied.
type Accepted struct {
	Accepted int `json:"accepted"`
}
