package dnsapi

import (
	"strings"
	"testing"
)

func TestDecode(t *testing.T) {
	known := func(c string) bool { return c == "eu-west" }
	for _, tc := range []struct {
		body    string
		rtt, ok bool
	}{
		{`[{"cluster": "eu-west", "client": "127.0.2.9", "rtt_ms": 12.5}]`, true, true},
		{`[{"cluster": "eu-west", "client": "::ffff:127.0.2.9", "rtt_ms": 60000}]`, true, true},
		{`[{"cluster": "eu-west", "client": "127.0.2.9", "rtt_ms": 60001}]`, true, false},
		{`[{"cluster": "mars", "client": "127.0.2.9", "rtt_ms": 1}]`, true, false},
		{`[{"cluster": "eu-west", "client": "127.0.2.9/24", "rtt_ms": 1}]`, true, false},
		{`[{"cluster": "eu-west", "node": "n1", "load": 850}]`, false, true},
		{`[{"cluster": "eu-west", "load": 2e12}]`, false, false},
		{`[{"cluster": "eu-west", "load": 1}, {"cluster": "mars", "load": 1}]`, false, false},
		{`[{"cluster": "eu-west", "load": 1, "capacity": 2}]`, false, false},
		{`[` + strings.Repeat(`{"cluster": "eu-west", "load": 1},`, MaxBody/30) + `{"cluster": "eu-west", "load": 1}]`, false, false},
	} {
		var err error
		if tc.rtt {
			var r []RTT
			if r, err = DecodeRTT(strings.NewReader(tc.body), known); err == nil && r[0].Client.Is4In6() {
				t.Errorf("%.60s: client %v not unmapped", tc.body, r[0].Client)
			}
		} else {
			_, err = DecodeLoad(strings.NewReader(tc.body), known)
		}
		if (err == nil) != tc.ok {
			t.Errorf("%.60s: %v, want ok %v", tc.body, err, tc.ok)
		}
	}
}

// FuzzDecode: no batch panics either decoder, and one accepted holds
// only reports within bounds.
func FuzzDecode(f *testing.F) {
	f.Add(`[{"cluster": "eu-west", "client": "127.0.2.9", "rtt_ms": 12.5}]`)
	f.Add(`[{"cluster": "eu-west", "node": "n1", "load": 850}]`)
	f.Add(`[]`)
	known := func(c string) bool { return c == "eu-west" }
	f.Fuzz(func(t *testing.T, body string) {
		if rs, err := DecodeRTT(strings.NewReader(body), known); err == nil {
			for _, r := range rs {
				if r.RTT <= 0 || !r.Client.IsValid() || r.Cluster != "eu-west" {
					t.Errorf("accepted %+v", r)
				}
			}
		}
		if ls, err := DecodeLoad(strings.NewReader(body), known); err == nil {
			for _, l := range ls {
				if !(l.Load >= 0 && l.Load <= MaxLoad) || l.Cluster != "eu-west" {
					t.Errorf("accepted %+v", l)
				}
			}
		}
	})
}
