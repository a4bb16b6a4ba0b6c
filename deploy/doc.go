// Package deploy turns a topology file (regions with coordinates, edge
// clusters, the origin and its titles, an optional shield, the DNS zones,
// the links between regions and clients, player populations) into a
// running CDN.
//
// On one machine (Up), every component is its own process of the same
// binary, each region on its own loopback network 127.0.R.0/24, with the
// wide-area links between regions and clients emulated in user space
// (package wan). The controller writes a state file, watches its
// processes and takes them down with it; Down and Status work from the
// state file alone. A Prometheus server can scrape every component
// (PrometheusConfig), and Dashboard is a Grafana dashboard of the same
// metrics. Package kube renders the same topology as Kubernetes
// manifests, one namespace per region.
package deploy
