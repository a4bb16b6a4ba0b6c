package steer

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/streamcdn/streamcdn/internal/geo"
)

// benchServer is a service over three edges that all hold "sample" and
// are healthy, eu-west loaded, with measured RTTs for a quarter of
// 4,096 client /24s and the rest placed by geography.
func benchServer(b *testing.B) *Server {
	b.Helper()
	s, err := New(Config{Origin: "http://127.0.0.1:1/", Token: token,
		Edges: []Edge{
			{Name: "us-east", URL: "http://127.0.1.1/", Admin: "http://127.0.1.1:9", Lat: 39.04, Lon: -77.49, Capacity: 1000},
			{Name: "eu-west", URL: "http://127.0.2.1/", Admin: "http://127.0.2.1:9", Lat: 53.35, Lon: -6.26, Capacity: 1000},
			{Name: "ap-south", URL: "http://127.0.3.1/", Admin: "http://127.0.3.1:9", Lat: 19.08, Lon: 72.88, Capacity: 1000},
		},
		Geo: []geo.Net{{Prefix: "10.0.0.0/9", Lat: 48.86, Lon: 2.35, Location: "Paris"}, {Prefix: "10.128.0.0/9", Lat: 40.71, Lon: -74.0, Location: "New York"}}})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	for name, st := range s.state {
		st.healthy, st.holds["sample"] = true, true
		if name == "eu-west" {
			st.load.Report("eu-west-1", 800, now)
		}
	}
	for i := range benchClients {
		if i%4 == 0 {
			s.rtt.Add(benchClient(i), "us-east", 30*time.Millisecond, now, time.Hour)
			s.rtt.Add(benchClient(i), "eu-west", 12*time.Millisecond, now, time.Hour)
		}
	}
	return s
}

const benchClients = 4096

func benchClient(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, byte(i >> 4), byte(i << 4), 9})
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	b.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkDecide is the steering service's decision for a client: the
// holders, their health and load, the client's measured RTTs or place,
// the policy. decisions/cpu-s is per second of the process's CPU time.
func BenchmarkDecide(b *testing.B) {
	s := benchServer(b)
	b.ReportAllocs()
	cpu := cpuTime(b)
	i := 0
	for b.Loop() {
		if _, err := s.Decide("sample", benchClient(i%benchClients)); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(b.N)/(cpuTime(b)-cpu).Seconds(), "decisions/cpu-s")
}

// BenchmarkDCSM is a whole steering manifest request through the
// handler (query parsing, the decision, the reload limit, the JSON),
// from 4,096 clients in turn, without the network.
func BenchmarkDCSM(b *testing.B) {
	s := benchServer(b)
	s.cfg.TTL = time.Millisecond // no client is refused for asking again
	reqs := make([]*http.Request, benchClients)
	for i := range reqs {
		reqs[i] = httptest.NewRequest(http.MethodGet, "/dcsm/sample?_DASH_pathway=us-east&_DASH_throughput=3000000", nil)
		reqs[i].RemoteAddr = benchClient(i).String() + ":40000"
	}
	b.ReportAllocs()
	cpu := cpuTime(b)
	i := 0
	for b.Loop() {
		w := httptest.NewRecorder()
		s.ServeHTTP(w, reqs[i%benchClients])
		if w.Code != http.StatusOK {
			b.Fatalf("%d: %s", w.Code, w.Body)
		}
		i++
	}
	b.ReportMetric(float64(b.N)/(cpuTime(b)-cpu).Seconds(), "decisions/cpu-s")
}
