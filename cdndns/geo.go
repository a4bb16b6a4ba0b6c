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
	"strconv"
	"strings"
	"time"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
	"github.com/oschwald/maxminddb-golang/v2"
	"github.com/streamcdn/streamcdn/internal/atomicfile"
)

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
