package main

import (
	"bufio"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestDNSReloadOnHangup: SIGHUP reloads the configuration file; a broken
// file is refused, logged, and the running configuration keeps answering.
func TestDNSReloadOnHangup(t *testing.T) {
	dir := t.TempDir()
	example, err := os.ReadFile("../../cdndns/examples/kingcdn.yaml")
	if err != nil {
		t.Fatal(err)
	}
	db, err := os.ReadFile("../../cdndns/examples/demo-geo.mmdb")
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "dns.yaml")
	for name, data := range map[string][]byte{cfg: example, filepath.Join(dir, "demo-geo.mmdb"): db} {
		if err := os.WriteFile(name, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(t.Context(), []string{"dns", "--config", cfg, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"}, io.Discard, pw)
		pw.Close()
	}()
	t.Cleanup(func() {
		if err := <-done; err != nil {
			t.Errorf("dns returned %v on shutdown", err)
		}
	})
	logs := make(chan string, 1024)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			logs <- sc.Text()
		}
		close(logs)
	}()
	waitLog := func(substr string) string {
		t.Helper()
		timeout := time.After(10 * time.Second)
		for {
			select {
			case l, ok := <-logs:
				if !ok {
					t.Fatalf("server exited before logging %q: %v", substr, <-done)
				}
				if strings.Contains(l, substr) {
					return l
				}
			case <-timeout:
				t.Fatalf("no log line with %q", substr)
			}
		}
	}
	m := regexp.MustCompile(`listen=(\S+)`).FindStringSubmatch(waitLog("dns serving"))
	addr := m[1]
	lookup := func(name string) int {
		t.Helper()
		q := new(dns.Msg)
		q.SetQuestion(name, dns.TypeA)
		r, err := dns.Exchange(q, addr)
		if err != nil {
			t.Fatalf("query %s: %v", name, err)
		}
		return len(r.Answer)
	}
	if n := lookup("new.netcinema.com."); n != 0 {
		t.Fatalf("new.netcinema.com answered before the reload")
	}
	added := strings.Replace(string(example), "      - {name: www.netcinema.com.",
		"      - {name: new.netcinema.com., type: A, ttl: 60, value: 127.0.0.81}\n      - {name: www.netcinema.com.", 1)
	if err := os.WriteFile(cfg, []byte(added), 0o644); err != nil {
		t.Fatal(err)
	}
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	waitLog("config reloaded")
	if n := lookup("new.netcinema.com."); n != 1 {
		t.Errorf("after SIGHUP: %d answers for the new record, want 1", n)
	}
	if err := os.WriteFile(cfg, []byte(added+"\nbogus_field: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	if l := waitLog("reload refused"); !strings.Contains(l, "bogus_field") {
		t.Errorf("refusal does not name the field: %s", l)
	}
	if n := lookup("new.netcinema.com."); n != 1 {
		t.Errorf("after a refused reload: %d answers, want the running configuration's 1", n)
	}
}
