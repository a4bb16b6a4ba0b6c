// Package dnsapi is the wire format of the reports edges send to the
// CDN's front doors, the DNS (cdndns) and the steering service (steer),
// which serve it, and the edge, which calls it: client RTTs measured on
// the edge's connections, and the egress load of each edge node. Both
// are JSON arrays POSTed with the admin bearer token; a receiver checks
// a batch whole (DecodeRTT, DecodeLoad), applies it whole or refuses it
// whole (400), and answers Accepted.
package dnsapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"time"
)

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

// MaxBody bounds a batch.
const MaxBody = 1 << 20

// MaxLoad bounds one load report, so that a sum of them stays finite.
const MaxLoad = 1e12

// RTT is a checked RTTReport.
type RTT struct {
	Cluster string
	Client  netip.Addr
	RTT     time.Duration
}

// DecodeRTT reads a batch of RTT reports (at most MaxBody bytes, unknown
// fields refused) and checks every one: a cluster known says it knows,
// a client IP address, 0 < rtt_ms <= MaxRTTMs. One bad report refuses
// the batch.
func DecodeRTT(body io.Reader, known func(cluster string) bool) ([]RTT, error) {
	var reports []RTTReport
	if err := decodeStrict(body, &reports); err != nil {
		return nil, err
	}
	out := make([]RTT, len(reports))
	for i, rep := range reports {
		a, err := netip.ParseAddr(rep.Client)
		if !known(rep.Cluster) || err != nil || !(rep.RTTMs > 0 && rep.RTTMs <= MaxRTTMs) {
			return nil, fmt.Errorf("report %d: want a known cluster, a client IP and 0 < rtt_ms <= %d; nothing applied", i, MaxRTTMs)
		}
		out[i] = RTT{Cluster: rep.Cluster, Client: a.Unmap(), RTT: time.Duration(rep.RTTMs * float64(time.Millisecond))}
	}
	return out, nil
}

// DecodeLoad reads a batch of load reports, as DecodeRTT, and checks
// every one: a known cluster and 0 <= load <= MaxLoad.
func DecodeLoad(body io.Reader, known func(cluster string) bool) ([]LoadReport, error) {
	var reports []LoadReport
	if err := decodeStrict(body, &reports); err != nil {
		return nil, err
	}
	for i, rep := range reports {
		if !known(rep.Cluster) || !(rep.Load >= 0 && rep.Load <= MaxLoad) {
			return nil, fmt.Errorf("report %d: want a known cluster and 0 <= load <= %g; nothing applied", i, float64(MaxLoad))
		}
	}
	return reports, nil
}

func decodeStrict(body io.Reader, v any) error {
	dec := json.NewDecoder(io.LimitReader(body, MaxBody+1))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("body: truncated or over %d bytes: %w", MaxBody, err)
		}
		return fmt.Errorf("body: %w", err)
	}
	return nil
}
