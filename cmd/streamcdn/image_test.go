package main

import (
	"debug/elf"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/streamcdn/streamcdn/internal/testutil"
)

// TestContainerImage builds the image with scripts/build-image.sh (buildah,
// nothing pulled), reads its config with skopeo, unpacks it with umoci
// and runs the binary of the unpacked root file system: the image a
// Kubernetes node would start, short of a container runtime.
func TestContainerImage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a static binary and an image")
	}
	for _, tool := range []string{"buildah", "skopeo", "umoci"} {
		testutil.RequireTool(t, tool)
	}
	dir := t.TempDir()
	archive := filepath.Join(dir, "streamcdn.tar")
	build := exec.CommandContext(t.Context(), "bash", "../../scripts/build-image.sh", archive, "streamcdn:test")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build-image.sh: %v\n%s", err, out)
	}

	out, err := exec.CommandContext(t.Context(), "skopeo", "inspect", "--config", "oci-archive:"+archive).Output()
	if err != nil {
		t.Fatalf("skopeo inspect: %v", err)
	}
	var cfg struct {
		Architecture string `json:"architecture"`
		OS           string `json:"os"`
		Config       struct {
			User       string            `json:"User"`
			Entrypoint []string          `json:"Entrypoint"`
			Env        []string          `json:"Env"`
			Labels     map[string]string `json:"Labels"`
		} `json:"config"`
		RootFS struct {
			DiffIDs []string `json:"diff_ids"`
		} `json:"rootfs"`
	}
	if err := json.Unmarshal(out, &cfg); err != nil {
		t.Fatalf("image config: %v\n%s", err, out)
	}
	c := cfg.Config
	if !slices.Equal(c.Entrypoint, []string{"/streamcdn"}) || c.User != "65532:65532" || cfg.OS != "linux" ||
		!slices.Contains(c.Env, "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt") || len(cfg.RootFS.DiffIDs) != 1 ||
		c.Labels["org.opencontainers.image.revision"] == "" {
		t.Errorf("image config: %+v", cfg)
	}

	layout := filepath.Join(dir, "layout")
	if out, err := exec.CommandContext(t.Context(), "skopeo", "copy", "--quiet", "oci-archive:"+archive,
		"oci:"+layout+":streamcdn").CombinedOutput(); err != nil {
		t.Fatalf("skopeo copy: %v\n%s", err, out)
	}
	bundle := filepath.Join(dir, "bundle")
	if out, err := exec.CommandContext(t.Context(), "umoci", "unpack", "--image", layout+":streamcdn", bundle).CombinedOutput(); err != nil {
		t.Fatalf("umoci unpack: %v\n%s", err, out)
	}
	rootfs := filepath.Join(bundle, "rootfs")
	for _, f := range []string{"etc/ssl/certs/ca-certificates.crt", "etc/passwd"} {
		if st, err := os.Stat(filepath.Join(rootfs, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s in the image: %v", f, err)
		}
	}
	if passwd, _ := os.ReadFile(filepath.Join(rootfs, "etc/passwd")); !strings.Contains(string(passwd), ":65532:65532:") {
		t.Errorf("/etc/passwd has no user 65532:\n%s", passwd)
	}
	// The binary is static: it runs from the unpacked root file system
	// as it would in the container.
	version, err := exec.CommandContext(t.Context(), filepath.Join(rootfs, "streamcdn"), "version").Output()
	if err != nil || !strings.HasPrefix(string(version), "streamcdn ") {
		t.Fatalf("/streamcdn version in the image: %q, %v", version, err)
	}
	// Built from this checkout: the version names its revision, as the
	// image's label does.
	if rev := c.Labels["org.opencontainers.image.revision"]; !strings.Contains(string(version), rev) {
		t.Errorf("/streamcdn version %q lacks the revision %s", version, rev)
	}
	bin, err := elf.Open(filepath.Join(rootfs, "streamcdn"))
	if err != nil {
		t.Fatal(err)
	}
	defer bin.Close()
	for _, p := range bin.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the image's binary asks for a dynamic loader: an empty base has none")
		}
	}
}
