package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
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
	waitLog := runLogged(t, "dns", "--config", cfg, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0")
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

// runLogged runs a long-running subcommand until the test ends and
// returns a function that waits (10 s at most) for its next log line
// containing substr and returns it.
func runLogged(t *testing.T, args ...string) func(substr string) string {
	t.Helper()
	pr, pw := io.Pipe()
	exited := make(chan struct{})
	var runErr error
	go func() {
		runErr = run(t.Context(), args, io.Discard, pw)
		pw.Close()
		close(exited)
	}()
	t.Cleanup(func() {
		<-exited
		if runErr != nil {
			t.Errorf("%s returned %v on shutdown", args[0], runErr)
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
	return func(substr string) string {
		t.Helper()
		timeout := time.After(10 * time.Second)
		for {
			select {
			case l, ok := <-logs:
				if !ok {
					<-exited
					t.Fatalf("%s exited before logging %q: %v", args[0], substr, runErr)
				}
				if strings.Contains(l, substr) {
					return l
				}
			case <-timeout:
				t.Fatalf("%s logged no line with %q", args[0], substr)
			}
		}
	}
}

// TestDNSUDPWorkers: with several UDP sockets sharing the port, queries
// from many client ports (which the kernel spreads over the sockets) are
// all answered, and TCP answers on the same port.
func TestDNSUDPWorkers(t *testing.T) {
	waitLog := runLogged(t, "dns", "--config", "../../cdndns/examples/kingcdn.yaml", "--listen", "127.0.0.1:0",
		"--admin", "127.0.0.1:0", "--udp-workers", "3")
	addr := regexp.MustCompile(`listen=(\S+)`).FindStringSubmatch(waitLog("dns serving"))[1]
	// Three UDP sockets hold the port (/proc/net/udp).
	_, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	udp, err := os.ReadFile("/proc/net/udp")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(udp), fmt.Sprintf("0100007F:%04X ", p)); n != 3 {
		t.Errorf("%d UDP sockets on %s, want 3", n, addr)
	}
	for i := range 30 {
		c := &dns.Client{Net: "udp"}
		if i == 29 {
			c.Net = "tcp"
		}
		q := new(dns.Msg)
		q.SetQuestion("a1105.kingcdn.com.", dns.TypeA)
		r, _, err := c.Exchange(q, addr)
		if err != nil || len(r.Answer) != 1 {
			t.Fatalf("query %d over %s: %v %v", i, c.Net, err, r)
		}
	}
}

// TestDNSHelp: "dns -h" names the explain and geodb subcommands and every
// admin endpoint.
func TestDNSHelp(t *testing.T) {
	var stderr strings.Builder
	run(t.Context(), []string{"dns", "-h"}, io.Discard, &stderr)
	for _, want := range []string{"dns explain", "dns geodb", "/metrics", "/healthz", "/explain", "/rtt", "/load", "/drain", "--max-udp-size"} {
		if !strings.Contains(stderr.String(), strings.TrimPrefix(want, "--")) {
			t.Errorf("dns -h does not mention %s:\n%s", want, stderr.String())
		}
	}
}
