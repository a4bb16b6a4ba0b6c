// Package examples holds the example DNS configuration (the textbook's
// NetCinema and KingCDN zones, three clusters) and the demo geo database,
// embedded so that the demo runs from the binary alone.
package examples

import _ "embed"

// KingCDN is kingcdn.yaml. Its geo_db is GeoDBName, beside it.
//
//go:embed kingcdn.yaml
var KingCDN []byte

// GeoDB is demo-geo.mmdb, built from cdndns/testdata/geo.csv.
//
//go:embed demo-geo.mmdb
var GeoDB []byte

// GeoDBName is the file name kingcdn.yaml gives as its geo_db.
const GeoDBName = "demo-geo.mmdb"
