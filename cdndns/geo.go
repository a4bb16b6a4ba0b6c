package cdndns

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
	"github.com/oschwald/maxminddb-golang/v2"
	"github.com/streamcdn/streamcdn/internal/atomicfile"
)

// locator places client addresses: the configuration's prefixes first
// (an operator's overrides), then the MaxMind-format database.
type locator struct {
	nets []geoNet // longest prefix first
	db   *maxminddb.Reader
	// records caches decoded database records by offset: a database has
	// few distinct locations, and decoding one costs more than the rest
	// of an answer.
	records sync.Map // uintptr -> geoNet (prefix unset), or nil if unusable
}

type geoNet struct {
	prefix   netip.Prefix
	lat, lon float64
	city     string
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

func newLocator(nets []GeoNet, db []byte) (*locator, error) {
	l := &locator{}
	for _, g := range nets {
		p, _ := netip.ParsePrefix(g.Prefix)
		l.nets = append(l.nets, geoNet{prefix: p.Masked(), lat: g.Lat, lon: g.Lon, city: g.Location})
	}
	sort.SliceStable(l.nets, func(i, j int) bool { return l.nets[i].prefix.Bits() > l.nets[j].prefix.Bits() })
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
			probes = append(probes, g.prefix.Addr())
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

// locate returns where client is and the prefix that holds it. When it is
// not located, the prefix is the widest around it that holds no located
// network, so that every address in it gets the same answer.
func (l *locator) locate(client netip.Addr) (geoNet, bool) {
	if !client.IsValid() {
		return geoNet{}, false
	}
	for _, g := range l.nets {
		if g.prefix.Contains(client) {
			g.prefix = l.narrow(client, g.prefix)
			return g, true
		}
	}
	scope := l.unmappedBits(client)
	if l.db != nil {
		res := l.db.Lookup(client)
		if res.Found() {
			if g, ok := l.record(res); ok {
				g.prefix = l.narrow(client, res.Prefix())
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
	return geoNet{prefix: p}, false
}

// record decodes the location of a found result, once per record.
func (l *locator) record(res maxminddb.Result) (geoNet, bool) {
	if v, ok := l.records.Load(res.Offset()); ok {
		g, ok := v.(geoNet)
		return g, ok
	}
	var rec cityRecord
	if res.Decode(&rec) != nil || rec.Location.Latitude == nil || rec.Location.Longitude == nil {
		l.records.Store(res.Offset(), nil)
		return geoNet{}, false
	}
	g := geoNet{lat: *rec.Location.Latitude, lon: *rec.Location.Longitude, city: rec.City.Names["en"]}
	l.records.Store(res.Offset(), g)
	return g, true
}

// narrow shrinks p, which holds client, to the widest prefix around client
// that no more specific configured prefix overlaps: the part of p whose
// clients are all placed the same way.
func (l *locator) narrow(client netip.Addr, p netip.Prefix) netip.Prefix {
	for bits := p.Bits(); bits < client.BitLen(); bits++ {
		q, _ := client.Prefix(bits)
		clear := true
		for _, g := range l.nets {
			if g.prefix.Bits() > p.Bits() && g.prefix.Overlaps(q) {
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
func (l *locator) unmappedBits(client netip.Addr) int {
	for bits := 0; bits <= client.BitLen(); bits++ {
		p, _ := client.Prefix(bits)
		overlaps := false
		for _, g := range l.nets {
			if g.prefix.Overlaps(p) {
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

// GeoDBType is the database type WriteGeoDB records, the one MaxMind's
// city databases carry, so that the same reader takes GeoLite2-City.
const GeoDBType = "GeoLite2-City"

// WriteGeoDBFile builds the database of the CSV at in (WriteGeoDB) and
// writes it to out, whole or not at all.
func WriteGeoDBFile(in, out string, built time.Time) error {
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	var buf bytes.Buffer
	if err := WriteGeoDB(f, &buf, built); err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	return atomicfile.Write(out, buf.Bytes())
}

// WriteGeoDB builds a MaxMind-format city database from CSV rows
// "network,city,country,latitude,longitude" (a header row starting with
// "network" is skipped, as are blank lines and lines starting with #) and
// writes it to w. The build time is recorded in the metadata; the same rows
// and time give the same bytes.
func WriteGeoDB(r io.Reader, w io.Writer, built time.Time) error {
	tree, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType:            GeoDBType,
		Description:             map[string]string{"en": "streamcdn demo geo database"},
		Languages:               []string{"en"},
		IncludeReservedNetworks: true, // loopback and documentation prefixes are the point
		RecordSize:              24,
		BuildEpoch:              built.Unix(),
	})
	if err != nil {
		return fmt.Errorf("geo db: %w", err)
	}
	cr := csv.NewReader(r)
	cr.Comment = '#'
	cr.FieldsPerRecord = 5
	cr.TrimLeadingSpace = true
	rows := 0
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("geo csv: %w", err)
		}
		line, _ := cr.FieldPos(0)
		if rows == 0 && strings.EqualFold(rec[0], "network") {
			continue
		}
		p, err := netip.ParsePrefix(rec[0])
		if err != nil {
			return fmt.Errorf("geo csv: line %d: network: %w", line, err)
		}
		lat, err1 := strconv.ParseFloat(rec[3], 64)
		lon, err2 := strconv.ParseFloat(rec[4], 64)
		if err1 != nil || err2 != nil {
			return fmt.Errorf("geo csv: line %d: latitude/longitude: want numbers, got %q, %q", line, rec[3], rec[4])
		}
		if err := checkLatLon(lat, lon); err != nil {
			return fmt.Errorf("geo csv: line %d: %w", line, err)
		}
		rows++
		_, ipnet, _ := net.ParseCIDR(p.Masked().String())
		value := mmdbtype.Map{
			"city":     mmdbtype.Map{"names": mmdbtype.Map{"en": mmdbtype.String(rec[1])}},
			"country":  mmdbtype.Map{"iso_code": mmdbtype.String(rec[2])},
			"location": mmdbtype.Map{"latitude": mmdbtype.Float64(lat), "longitude": mmdbtype.Float64(lon)},
		}
		if err := tree.Insert(ipnet, value); err != nil {
			return fmt.Errorf("geo csv: line %d: %w", line, err)
		}
	}
	if rows == 0 {
		return errors.New("geo csv: no networks")
	}
	if _, err := tree.WriteTo(w); err != nil {
		return fmt.Errorf("geo db: %w", err)
	}
	return nil
}

// GeoDBBuildTime reads the build time recorded in a database.
func GeoDBBuildTime(db []byte) (time.Time, error) {
	r, err := maxminddb.OpenBytes(db)
	if err != nil {
		return time.Time{}, err
	}
	return r.Metadata.BuildTime(), nil
}
