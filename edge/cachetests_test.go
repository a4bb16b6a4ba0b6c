package edge

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/streamcdn/streamcdn/internal/atomicfile"
	"github.com/streamcdn/streamcdn/internal/h1"
	"github.com/streamcdn/streamcdn/internal/testutil"
)

var updateCacheTests = flag.Bool("update-cache-tests", false, "rewrite testdata/cache-tests.golden from this run of the cache-tests suite")

// TestCacheTests runs the HTTP caching test suite behind cache-tests.fyi
// (npm's http-cache-tests, pinned in testdata/cache-tests; $CACHE_TESTS
// is its installed package directory) against the edge in front of the
// suite's own origin, served as the edge command serves it (internal/h1),
// again with every stored body in a memfd (sent by sendfile), and by
// net/http. Every test the edge passed when testdata/cache-tests.golden
// was written must still pass, and all three must pass the same tests;
// one that passes now and did not is
// reported, for the golden file to be updated (-update-cache-tests).
func TestCacheTests(t *testing.T) {
	if testing.Short() {
		t.Skip("the cache-tests suite is skipped in -short mode")
	}
	dir := os.Getenv("CACHE_TESTS")
	if dir == "" {
		testutil.Missing(t, "CACHE_TESTS (the directory of an npm-installed http-cache-tests) is not set")
	}
	node := testutil.RequireTool(t, "node")
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	origin := startCacheTestsOrigin(ctx, t, node, dir)
	kinds := cacheTestKinds(ctx, t, node, dir)
	golden := filepath.Join("testdata", "cache-tests.golden")
	b, err := os.ReadFile(golden)
	if err != nil && !*updateCacheTests {
		t.Fatal(err)
	}
	want := strings.Fields(string(b))

	passing := map[string][]string{}
	h1Front := func(t *testing.T, s *Server) string {
		t.Helper()
		return newFront(t, s, s.ConnContext).URL
	}
	for _, front := range []struct {
		name     string
		fileBody int64 // Config.FileBodyBytes
		serve    func(t *testing.T, s *Server) string
	}{
		{"h1", 0, h1Front},
		{"h1-memfd", 1, func(t *testing.T, s *Server) string { // every stored body in a memfd, sent by sendfile
			t.Helper()
			url, _ := testutil.ServeH1Config(t, h1.Config{Handler: s, ConnContext: s.ConnContext, BusyConns: -1})
			return url
		}},
		{"net/http", 0, func(t *testing.T, s *Server) string {
			t.Helper()
			ts := httptest.NewUnstartedServer(s)
			ts.Config.ConnContext = s.ConnContext
			ts.Start()
			t.Cleanup(ts.Close)
			return ts.URL
		}},
	} {
		t.Run(front.name, func(t *testing.T) {
			s, err := New(Config{Upstream: origin, Name: "edge-test", FileBodyBytes: front.fileBody})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			results := runCacheTests(ctx, t, node, dir, front.serve(t, s))
			passed, total := map[string]int{}, map[string]int{}
			var got []string
			for id, r := range results {
				kind := cmp.Or(kinds[id], "required")
				total[kind]++
				if string(r) == "true" {
					passed[kind]++
					got = append(got, id)
				}
			}
			slices.Sort(got)
			passing[front.name] = got
			t.Logf("cache-tests: required %d of %d passed, optimal %d of %d, check %d of %d",
				passed["required"], total["required"], passed["optimal"], total["optimal"], passed["check"], total["check"])
			if *updateCacheTests {
				return
			}
			for _, id := range want {
				if _, ok := results[id]; !ok {
					t.Errorf("%s: passed before, not run now (is the suite the pinned version?)", id)
				} else if !slices.Contains(got, id) {
					t.Errorf("%s: passed before, fails now: %s", id, results[id])
				}
			}
			for _, id := range got {
				if !slices.Contains(want, id) {
					t.Logf("%s: passes now and did not before; update the golden file with -update-cache-tests", id)
				}
			}
		})
	}
	for _, other := range []string{"h1-memfd", "net/http"} {
		if a, b := passing["h1"], passing[other]; !slices.Equal(a, b) {
			t.Errorf("the edge passes %d tests served by h1 and %d served by %s; only on h1: %v; only on %s: %v",
				len(a), len(b), other, without(a, b), other, without(b, a))
		}
	}
	if *updateCacheTests && !t.Failed() {
		if err := atomicfile.Write(golden, []byte(strings.Join(passing["h1"], "\n")+"\n")); err != nil {
			t.Fatal(err)
		}
	}
}

// without returns the elements of a that are not in b.
func without(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// startCacheTestsOrigin starts the suite's origin server on a free
// loopback port and returns its URL; it is stopped when the test ends.
func startCacheTestsOrigin(ctx context.Context, t *testing.T, node, dir string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, node, "server/server.mjs")
	cmd.Dir = dir
	// The server reads its settings as npm passes them; port 0 picks a
	// free one, which it prints.
	cmd.Env = append(os.Environ(), "npm_config_protocol=http", "npm_config_port=0",
		"npm_config_pidfile="+filepath.Join(t.TempDir(), "server.pid"))
	testutil.DieWithTest(cmd)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	listening := regexp.MustCompile(`Listening on http://.*:(\d+)/`)
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if m := listening.FindStringSubmatch(sc.Text()); m != nil {
			go func() { _, _ = io.Copy(io.Discard, out) }()
			return "http://127.0.0.1:" + m[1]
		}
	}
	t.Fatalf("the cache-tests origin did not say where it listens: %v %s", sc.Err(), stderr.String())
	return ""
}

// runCacheTests runs every test of the suite through the cache at base
// and returns each test's result: true, or why it failed.
func runCacheTests(ctx context.Context, t *testing.T, node, dir, base string) map[string]json.RawMessage {
	t.Helper()
	cmd := exec.CommandContext(ctx, node, "--no-warnings", "cli.mjs")
	cmd.Dir = dir
	// An empty id runs them all; npm would pass both of these.
	cmd.Env = append(os.Environ(), "npm_config_base="+base, "npm_config_id=", "npm_package_config_id=")
	testutil.DieWithTest(cmd)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("cache-tests: %v: %s", err, stderr.String())
	}
	var results map[string]json.RawMessage
	if err := json.Unmarshal(out, &results); err != nil || len(results) == 0 {
		t.Fatalf("cache-tests printed no results (%v): %.2000s %s", err, out, stderr.String())
	}
	return results
}

// cacheTestKinds returns each test's kind as the suite declares it
// (required when it does not: "optimal", "check").
func cacheTestKinds(ctx context.Context, t *testing.T, node, dir string) map[string]string {
	t.Helper()
	const script = `
import tests from './tests/index.mjs'
import surrogate from './tests/surrogate-control.mjs'
const kinds = {}
for (const suite of [...tests, surrogate]) for (const test of suite.tests) kinds[test.id] = test.kind || ''
console.log(JSON.stringify(kinds))
`
	cmd := exec.CommandContext(ctx, node, "--input-type=module", "-e", script)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("reading the suite's test kinds: %v", err)
	}
	kinds := map[string]string{}
	if err := json.Unmarshal(out, &kinds); err != nil {
		t.Fatalf("reading the suite's test kinds: %v", err)
	}
	return kinds
}
