// Package examples holds the example topologies, embedded so that the
// demo runs from the binary alone.
package examples

import _ "embed"

// ThreeRegion is three-region.yaml: the demo's topology, both flows
// (the DNS's and the steering service's) side by side.
//
//go:embed three-region.yaml
var ThreeRegion []byte

// World is world.yaml: four regions with clusters and one with clients
// only, at real coordinates.
//
//go:embed world.yaml
var World []byte
