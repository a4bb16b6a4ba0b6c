package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/streamcdn/streamcdn/deploy"
	"github.com/streamcdn/streamcdn/internal/testutil"
)

// TestDeployCommands drives `streamcdn deploy` as a user does: validate,
// render, up, status, play, a component's death seen by status, down.
func TestDeployCommands(t *testing.T) {
	bin := buildBinary(t)
	topo := filepath.Join("..", "..", "deploy", "examples", "three-region.yaml")
	run := func(args ...string) (string, error) {
		cmd := exec.Command(bin, append([]string{"deploy"}, args...)...)
		testutil.DieWithTest(cmd)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	out, err := run("validate", "-f", filepath.Join("..", "..", "deploy", "examples", "world.yaml"))
	if err != nil || !strings.Contains(out, "world: valid. 5 regions, 8 edge nodes, 15 processes, 18 players, 1 titles") ||
		!strings.Contains(out, "sa-east    127.0.5.0/24  clients only") {
		t.Errorf("validate: %v\n%s", err, out)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("name: x\nregionz: []\n"), 0o644)
	if out, err := run("up", "-f", bad, "--dir", t.TempDir()); err == nil || !strings.Contains(out, `unknown field "regionz"`) {
		t.Errorf("up with a bad topology: %v\n%s", err, out)
	}
	k8s := filepath.Join(t.TempDir(), "k8s")
	out, err = run("render", "-f", topo, "--target", "kubernetes", "--out", k8s)
	if err != nil || !strings.Contains(out, "kingcdn.com.\tNS\tns1.kingcdn.com.") {
		t.Errorf("render: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(k8s, "overlays", "eu-west", "kustomization.yaml")); err != nil {
		t.Errorf("render wrote no eu-west overlay: %v", err)
	}

	dir := filepath.Join(t.TempDir(), "deployment")
	var upOut bytes.Buffer
	up := exec.Command(bin, "deploy", "up", "-f", topo, "--dir", dir, "--log-level", "warn")
	up.Stdout, up.Stderr = &upOut, &upOut
	testutil.DieWithTest(up)
	if err := up.Start(); err != nil {
		t.Fatal(err)
	}
	defer up.Process.Kill()
	var st *deploy.State
	for i := 0; i < 600 && st == nil; i++ { // 60 s
		time.Sleep(100 * time.Millisecond)
		st, _ = deploy.ReadState(dir)
	}
	if st == nil {
		t.Fatalf("no state after 60 s:\n%s", upOut.String())
	}
	if out, err := run("up", "-f", topo, "--dir", dir); err == nil || !strings.Contains(out, "is already up") {
		t.Errorf("a second up in the same directory: %v\n%s", err, out)
	}
	out, err = run("status", "--dir", dir)
	if err != nil || strings.Count(out, " running  ok ") != 10 {
		t.Errorf("status of a healthy deployment: %v\n%s", err, out)
	}
	// The players and events of the state's topology: the players are
	// done in 0.5 s, before eu-west's cluster fails at 3 s; the
	// controller (deploy up) kills and restarts it on play's request.
	out, err = run("play", "--dir", dir, "--speed", "8", "--duration", "4s")
	if err != nil {
		t.Errorf("play: %v\n%s", err, out)
	}
	for _, want := range []string{"EVENT push fill of trailer to every region", "pushed trailer: 65 objects",
		"EVENT eu-west's edge cluster fails (edge-eu-west-1 killed)", "eu-west's edge cluster is ready again",
		"== QoE per player population"} {
		if !strings.Contains(out, want) {
			t.Errorf("play's report lacks %q:\n%s", want, out)
		}
	}
	// Each region's players (two, and eu-west's two steered) are served
	// by their own cluster only.
	served := map[string]int{}
	table, _, _ := strings.Cut(strings.TrimSpace(out), "\n\n")
	for _, line := range strings.Split(table, "\n")[1:] {
		f := strings.Fields(line) // region player from title abr clusters ended ...
		if len(f) < 7 || f[5] != f[0] || f[6] != "duration" {
			t.Errorf("play: %q", line)
			continue
		}
		served[f[0]]++
	}
	for region, want := range map[string]int{"us-east": 2, "eu-west": 4, "ap-south": 2} {
		if served[region] != want {
			t.Errorf("play: %d players of %s served by their own cluster, want %d:\n%s", served[region], region, want, out)
		}
	}

	// An edge dies: status says so and fails.
	out, err = run("status", "--dir", dir)
	if err != nil || strings.Count(out, " running  ok ") != 10 {
		t.Errorf("status after play's restore: %v\n%s", err, out)
	}
	if st, err = deploy.ReadState(dir); err != nil {
		t.Fatal(err)
	}
	for _, p := range st.Processes {
		if p.Component == "edge-eu-west-1" {
			syscall.Kill(p.PID, syscall.SIGKILL)
		}
	}
	var down string
	for range 50 { // 5 s for the controller to see it
		out, err = run("status", "--dir", dir)
		if err != nil {
			down = out
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(down, "edge-eu-west-1") || !strings.Contains(down, "exited   down") || !strings.Contains(down, "1 of 10 components not healthy") {
		t.Errorf("status after an edge died:\n%s", down)
	}

	out, err = run("down", "--dir", dir)
	if err != nil || !strings.Contains(out, "deployment three-region is down") {
		t.Errorf("down: %v\n%s", err, out)
	}
	if err := up.Wait(); err != nil {
		t.Errorf("deploy up ended with %v after down:\n%s", err, upOut.String())
	}
	if left := deploy.Processes(st.ID); len(left) > 0 {
		t.Errorf("processes left after down: %v", left)
	}
	if out, err := run("status", "--dir", dir); err == nil || !strings.Contains(out, "not up?") {
		t.Errorf("status after down: %v\n%s", err, out)
	}
}
