package cdndns

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestConfigMistakes: one case per class of mistake, each naming the field.
func TestConfigMistakes(t *testing.T) {
	base := string(mustRead(t, "examples/kingcdn.yaml"))
	tests := []struct {
		name, from, to, want string
	}{
		{"unknown field", "zones:", "zonez:", `unknown field "zonez"`},
		{"bad origin", "origin: netcinema.com.", "origin: bad..name", "zones[0].origin (line 8)"},
		{"no name servers", "  - {name: ns1.kingcdn.com., ipv4: 127.0.0.54}", "  []", "zones[1].ns (line 17): at least one"},
		{"bad glue", "ipv4: 127.0.0.53", "ipv4: 1.2.3", "zones[0].ns[0].ipv4 (line 11)"},
		{"record outside its zone", "name: www.netcinema.com.", "name: www.example.org.", "zones[0].records[1].name (line 14)"},
		{"bad record type", "type: A, ttl: 300", "type: WKS, ttl: 300", "zones[0].records[1].type (line 14)"},
		{"bad record value", "value: 127.0.0.80", "value: not-an-ip", "zones[0].records[1].value (line 14)"},
		{"cluster without address", `ipv4: [127.0.2.1], ipv6: ["fd00:2::1"]`, "ipv4: []", "clusters[1].ipv4 (line 22)"},
		{"cluster IPv6 in ipv4", "ipv4: [127.0.3.1]", `ipv4: ["fd00::1"]`, "clusters[2].ipv4[0] (line 23)"},
		{"latitude", "lat: 39.04", "lat: 139.04", "clusters[0].lat (line 21)"},
		{"duplicate cluster", "name: ap-south", "name: us-east", `clusters[2].name (line 23): "us-east" repeated`},
		{"host outside zones", "name: a1105.kingcdn.com.", "name: a1105.other.net.", "hosts[0].name"},
		{"bad geo prefix", "geo_db: demo-geo.mmdb", "geo: [{prefix: 127.0.1.0/33, lat: 1, lon: 2}]", "geo[0].prefix"},
		{"bad duration", "interval: 2s", "interval: soon", `health.interval (line 32): "soon": bad duration`},
		{"negative duration", "interval: 2s", "interval: -2s", `health.interval (line 32): "-2s": bad duration: want a positive one`},
		{"health url", "capacity: 1000}\n  - {name: eu-west", "capacity: 1000, health_url: ftp://x}\n  - {name: eu-west", "clusters[0].health_url (line 21)"},
		{"not YAML", "hosts:", "hosts: [", "config:"},
		{"wrong type", "ttl: 30}", "ttl: soon}", "hosts[0].ttl (line 26): want uint32, not string"},
		{"negative TTL", "type: A, ttl: 300", "type: A, ttl: -300", "zones[0].records[1].ttl (line 14): want uint32, not number -300"},
		{"CNAME beside other data", "name: www.netcinema.com., type: A", "name: video.netcinema.com., type: A", "zones[0].records[1].name (line 14): video.netcinema.com. has a CNAME and other records"},
		{"CNAME at the apex", "{name: www.netcinema.com., type: A, ttl: 300, value: 127.0.0.80}", "{name: netcinema.com., type: CNAME, ttl: 300, value: www.example.org.}", "zones[0].records[1].type (line 14): a CNAME at the zone's apex"},
		{"CNAME loop", "{name: www.netcinema.com., type: A, ttl: 300, value: 127.0.0.80}", "{name: www.netcinema.com., type: CNAME, ttl: 300, value: w2.netcinema.com.}\n      - {name: w2.netcinema.com., type: CNAME, ttl: 300, value: www.netcinema.com.}", "loops at"},
		{"host with static records", "      - {name: ns1.kingcdn.com., ipv4: 127.0.0.54}\n", "      - {name: ns1.kingcdn.com., ipv4: 127.0.0.54}\n    records: [{name: a1105.kingcdn.com., type: A, ttl: 60, value: 127.0.9.9}]\n", "hosts[0].name (line 27): \"a1105.kingcdn.com.\" also has static records (zones[1].records[0])"},
		{"duplicate zone", "origin: kingcdn.com.", "origin: netcinema.com.", "zones[1].origin (line 15): \"netcinema.com.\" is another zone's too"},
		{"root zone", "origin: netcinema.com.", "origin: .", "zones[0].origin (line 8): \".\" would make this server authoritative for the root"},
		{"top-level zone", "origin: netcinema.com.", "origin: com.", "authoritative for the root or a whole top-level domain"},
		{"rname with @", "rname: hostmaster.netcinema.com.", "rname: hostmaster@netcinema.com.", "zones[0].soa.rname (line 9): \"hostmaster@netcinema.com.\": write the mailbox as a name"},
		{"two documents", "\nhealth: {", "\n---\nhealth: {", "more than one document"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(base, tc.from) {
				t.Fatalf("fixture lacks %q", tc.from)
			}
			_, err := LoadConfig([]byte(strings.Replace(base, tc.from, tc.to, 1)))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("LoadConfig error = %v, want it to name %q", err, tc.want)
			}
		})
	}
	c, err := LoadConfig([]byte(base))
	if err != nil || len(c.Clusters) != 3 || len(c.Zones) != 2 {
		t.Errorf("the example does not load: %v", err)
	}
}

// TestConfigJSON: the same configuration in JSON loads to the same Config.
func TestConfigJSON(t *testing.T) {
	y, err := LoadConfig(mustRead(t, "examples/kingcdn.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	js, err := json.Marshal(y)
	if err != nil {
		t.Fatal(err)
	}
	j, err := LoadConfig(js)
	if err != nil {
		t.Fatalf("JSON: %v", err)
	}
	if diff := cmp.Diff(y, j); diff != "" {
		t.Errorf("JSON and YAML differ (-yaml +json):\n%s", diff)
	}
}

// TestConfigFileGeoDB: a relative geo_db is found beside the file, and a
// missing database is an error naming geo_db.
func TestConfigFileGeoDB(t *testing.T) {
	c, err := LoadConfigFile("examples/kingcdn.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.GeoDB != filepath.Join("examples", "demo-geo.mmdb") {
		t.Errorf("geo_db = %q", c.GeoDB)
	}
	c.GeoDB = filepath.Join(t.TempDir(), "missing.mmdb")
	if _, err := New(*c); err == nil || !strings.Contains(err.Error(), "geo_db") {
		t.Errorf("missing geo db: %v, want an error naming geo_db", err)
	}
	c.GeoDB = "examples/kingcdn.yaml" // not a database
	if _, err := New(*c); err == nil || !strings.Contains(err.Error(), "geo_db") {
		t.Errorf("not a geo db: %v, want an error naming geo_db", err)
	}
}
