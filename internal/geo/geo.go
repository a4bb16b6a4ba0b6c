// Package geo places client addresses on the map, for choosing the
// nearest edge: an operator's own prefixes first, then a MaxMind-format
// city database (GeoLite2-City, or one cdndns.WriteGeoDB builds). The
// DNS (cdndns) and the steering service use the same locator.
package geo

import (
	"fmt"
	"math"
	"net/netip"
	"sort"
	"sync"

	"github.com/oschwald/maxminddb-golang/v2"
)

// Locator places client addresses: its overrides first (an operator's
// own prefixes), then the MaxMind-format database.
type Locator struct {
	nets []Place // longest prefix first
	db   *maxminddb.Reader
	// records caches decoded database records by offset: a database has
	// few distinct locations, and decoding one costs more than the rest
	// of an answer.
	records sync.Map // uintptr -> Place (prefix unset), or nil if unusable
}

// Net places the clients of one prefix: an operator's override, as a
// configuration file writes it.
type Net struct {
	Prefix string  `json:"prefix"`
	Lat    float64 `json:"lat"`
	Lon    float64 `json:"lon"`
	// Location names the place for explanations, e.g. "Paris office".
	Location string `json:"location,omitempty"`
}

// Places parses nets into overrides for New.
func Places(nets []Net) ([]Place, error) {
	var out []Place
	for i, n := range nets {
		p, err := netip.ParsePrefix(n.Prefix)
		if err != nil {
			return nil, fmt.Errorf("geo[%d].prefix: %w", i, err)
		}
		out = append(out, Place{Prefix: p, Lat: n.Lat, Lon: n.Lon, City: n.Location})
	}
	return out, nil
}

// Place is where a client is: the prefix that holds it, its
// coordinates and city.
type Place struct {
	Prefix   netip.Prefix
	Lat, Lon float64
	City     string
}

// cityRecord is the part of a GeoLite2-City / GeoIP2-City record we read;
// the databases WriteGeoDB builds have the same shape.
type cityRecord struct {
	City struct {
		Names map[string]string `maxminddb:"names"`
	} `maxminddb:"city"`
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
	Location struct {
		Latitude  *float64 `maxminddb:"latitude"`
		Longitude *float64 `maxminddb:"longitude"`
	} `maxminddb:"location"`
}

// New is a Locator of the overrides (their prefixes) and the database
// db (nil: none), which it checks whole.
func New(overrides []Place, db []byte) (*Locator, error) {
	l := &Locator{}
	for _, g := range overrides {
		g.Prefix = g.Prefix.Masked()
		l.nets = append(l.nets, g)
	}
	sort.SliceStable(l.nets, func(i, j int) bool { return l.nets[i].Prefix.Bits() > l.nets[j].Prefix.Bits() })
	if db != nil {
		r, err := maxminddb.OpenBytes(db)
		if err != nil {
			return nil, fmt.Errorf("geo_db: %w", err)
		}
		// A file whose metadata reads but whose search tree or data is
		// damaged would send every client to one cluster without a
		// word: check the whole file, then look up the configured
		// networks and a few well-known addresses.
		if err := r.Verify(); err != nil {
			return nil, fmt.Errorf("geo_db: damaged: %w", err)
		}
		probes := []netip.Addr{netip.MustParseAddr("1.1.1.1"), netip.MustParseAddr("8.8.8.8"), netip.MustParseAddr("2001:4860::8888")}
		for _, g := range l.nets {
			probes = append(probes, g.Prefix.Addr())
		}
		for _, a := range probes {
			var rec any
			if err := r.Lookup(a).Decode(&rec); err != nil {
				return nil, fmt.Errorf("geo_db: damaged: looking up %s: %w", a, err)
			}
		}
		l.db = r
	}
	return l, nil
}

// Locate returns where client is and the prefix that holds it. When it is
// not located, the prefix is the widest around it that holds no located
// network, so that every address in it gets the same answer.
func (l *Locator) Locate(client netip.Addr) (Place, bool) {
	if !client.IsValid() {
		return Place{}, false
	}
	for _, g := range l.nets {
		if g.Prefix.Contains(client) {
			g.Prefix = l.narrow(client, g.Prefix)
			return g, true
		}
	}
	scope := l.unmappedBits(client)
	if l.db != nil {
		res := l.db.Lookup(client)
		if res.Found() {
			if g, ok := l.record(res); ok {
				g.Prefix = l.narrow(client, res.Prefix())
				return g, true
			}
		}
		if p := res.Prefix(); p.IsValid() && res.Err() == nil {
			scope = max(scope, p.Bits())
		} else {
			scope = client.BitLen()
		}
	}
	p, _ := client.Prefix(scope)
	return Place{Prefix: p}, false
}

// record decodes the location of a found result, once per record.
func (l *Locator) record(res maxminddb.Result) (Place, bool) {
	if v, ok := l.records.Load(res.Offset()); ok {
		g, ok := v.(Place)
		return g, ok
	}
	var rec cityRecord
	if res.Decode(&rec) != nil || rec.Location.Latitude == nil || rec.Location.Longitude == nil {
		l.records.Store(res.Offset(), nil)
		return Place{}, false
	}
	g := Place{Lat: *rec.Location.Latitude, Lon: *rec.Location.Longitude, City: rec.City.Names["en"]}
	l.records.Store(res.Offset(), g)
	return g, true
}

// narrow shrinks p, which holds client, to the widest prefix around client
// that no more specific configured prefix overlaps: the part of p whose
// clients are all placed the same way.
func (l *Locator) narrow(client netip.Addr, p netip.Prefix) netip.Prefix {
	for bits := p.Bits(); bits < client.BitLen(); bits++ {
		q, _ := client.Prefix(bits)
		clear := true
		for _, g := range l.nets {
			if g.Prefix.Bits() > p.Bits() && g.Prefix.Overlaps(q) {
				clear = false
				break
			}
		}
		if clear {
			return q
		}
	}
	q, _ := client.Prefix(client.BitLen())
	return q
}

// unmappedBits is the shortest prefix length around client that overlaps
// none of the configured prefixes.
func (l *Locator) unmappedBits(client netip.Addr) int {
	for bits := 0; bits <= client.BitLen(); bits++ {
		p, _ := client.Prefix(bits)
		overlaps := false
		for _, g := range l.nets {
			if g.Prefix.Overlaps(p) {
				overlaps = true
				break
			}
		}
		if !overlaps {
			return bits
		}
	}
	return client.BitLen()
}

// DistanceKm is the great-circle (haversine) distance between two points.
func DistanceKm(lat1, lon1, lat2, lon2 float64) float64 {
	const r = 6371.0
	rad := math.Pi / 180
	dLat, dLon := (lat2-lat1)*rad, (lon2-lon1)*rad
	a := math.Sin(dLat/2)*math.Sin(dLat/2) + math.Cos(lat1*rad)*math.Cos(lat2*rad)*math.Sin(dLon/2)*math.Sin(dLon/2)
	return 2 * r * math.Asin(math.Sqrt(a))
}
