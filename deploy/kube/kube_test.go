package kube

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/streamcdn/streamcdn/cdndns"
	"github.com/streamcdn/streamcdn/deploy"
	"github.com/streamcdn/streamcdn/deploy/examples"
	"github.com/streamcdn/streamcdn/steer"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// decodeStrict decodes one YAML document into the Kubernetes type its
// kind names, refusing unknown fields: a typo or a wrong field fails.
func decodeStrict(t *testing.T, path string, doc []byte) any {
	t.Helper()
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := yaml.Unmarshal(doc, &head); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var obj any
	switch head.APIVersion + "/" + head.Kind {
	case "v1/Namespace":
		obj = &corev1.Namespace{}
	case "v1/Service":
		obj = &corev1.Service{}
	case "v1/ConfigMap":
		obj = &corev1.ConfigMap{}
	case "v1/PersistentVolumeClaim":
		obj = &corev1.PersistentVolumeClaim{}
	case "apps/v1/Deployment":
		obj = &appsv1.Deployment{}
	case "apps/v1/StatefulSet":
		obj = &appsv1.StatefulSet{}
	case "kustomize.config.k8s.io/v1beta1/Kustomization":
		obj = &kustomization{}
	default:
		t.Fatalf("%s: unexpected kind %s %s", path, head.APIVersion, head.Kind)
	}
	if err := yaml.UnmarshalStrict(doc, obj); err != nil {
		t.Fatalf("%s: strict decode as %s: %v", path, head.Kind, err)
	}
	return obj
}

func TestRender(t *testing.T) {
	for name, data := range map[string][]byte{"three-region": examples.ThreeRegion, "world": examples.World} {
		t.Run(name, func(t *testing.T) {
			top, err := deploy.Load(data)
			if err != nil {
				t.Fatal(err)
			}
			files, err := Render(top, Config{})
			if err != nil {
				t.Fatal(err)
			}
			var statefulSets, services int
			for path, b := range files {
				for _, doc := range bytes.Split(b, []byte("---\n")) {
					switch o := decodeStrict(t, path, doc).(type) {
					case *appsv1.StatefulSet:
						statefulSets++
						c := o.Spec.Template.Spec.Containers[0]
						if c.ReadinessProbe == nil || c.LivenessProbe == nil || c.Resources.Limits.Memory().IsZero() {
							t.Errorf("%s: %s lacks probes or limits", path, o.Name)
						}
						if o.Spec.Template.Annotations["prometheus.io/scrape"] != "true" {
							t.Errorf("%s: %s is not scraped", path, o.Name)
						}
					case *corev1.Service:
						services++
					case *corev1.ConfigMap:
						if ej, ok := o.Data["edge.json"]; ok {
							// An edge's flags, as "streamcdn edge --config" reads them.
							var flags map[string]string
							if err := json.Unmarshal([]byte(ej), &flags); err != nil || flags["upstream"] == "" || flags["mem"] == "" {
								t.Errorf("%s: %s: edge.json %q: %v", path, o.Name, ej, err)
							}
							continue
						}
						if sj, ok := o.Data["steer.json"]; ok {
							// The steering service's configuration is one it accepts.
							checkSteer(t, path, top, sj)
							continue
						}
						if oj, ok := o.Data["origin.json"]; ok {
							var flags map[string]string
							if err := json.Unmarshal([]byte(oj), &flags); err != nil || flags["dir"] == "" {
								t.Errorf("%s: %s: origin.json %q: %v", path, o.Name, oj, err)
							}
							continue
						}
						// The DNS configuration is one the DNS accepts.
						cfg, err := cdndns.LoadConfig([]byte(o.Data["dns.json"]))
						if err != nil {
							t.Errorf("%s: dns.json: %v", path, err)
						} else if len(cfg.Clusters) == 0 {
							t.Errorf("%s: no clusters", path)
						}
					case *kustomization:
						for _, r := range o.Resources {
							if _, ok := files[filepath.ToSlash(filepath.Join(filepath.Dir(path), r))]; !ok && !strings.HasPrefix(r, "..") {
								t.Errorf("%s names %s, which was not rendered", path, r)
							}
						}
						for _, p := range o.Patches {
							if p.Path != "" {
								if _, ok := files[filepath.ToSlash(filepath.Join(filepath.Dir(path), p.Path))]; !ok {
									t.Errorf("%s names patch %s, which was not rendered", path, p.Path)
								}
							}
						}
					}
				}
			}
			if statefulSets == 0 || services == 0 {
				t.Errorf("%d StatefulSets, %d Services", statefulSets, services)
			}
			for _, r := range top.Regions {
				if _, ok := files["overlays/"+r.Name+"/kustomization.yaml"]; !ok {
					t.Errorf("no overlay for %s", r.Name)
				}
			}
			golden(t, filepath.Join("testdata", name), files)
		})
	}
}

// golden compares files with the tree under dir (rewritten with
// -update).
func golden(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	if *update {
		if err := Write(dir, files); err != nil {
			t.Fatal(err)
		}
		return
	}
	var have []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			have = append(have, filepath.ToSlash(rel))
		}
		return nil
	})
	var want []string
	for p := range files {
		want = append(want, p)
	}
	slices.Sort(want)
	if d := cmp.Diff(have, want); d != "" {
		t.Errorf("rendered files differ from %s (-golden +rendered; go test -update rewrites):\n%s", dir, d)
	}
	for p, b := range files {
		g, err := os.ReadFile(filepath.Join(dir, p))
		if err != nil {
			continue
		}
		if d := cmp.Diff(string(g), string(b)); d != "" {
			t.Errorf("%s differs from its golden file (-golden +rendered):\n%s", p, d)
		}
	}
}

func TestDelegation(t *testing.T) {
	top, err := deploy.Load(examples.ThreeRegion)
	if err != nil {
		t.Fatal(err)
	}
	top.Regions[1].Edge.DNSIPv4 = "203.0.113.53"
	top.Regions[1].Edge.PublicIPv4 = "203.0.113.80"
	d := Delegation(top)
	for _, want := range []string{"kingcdn.com.\tNS\tns2.kingcdn.com.", "ns2.kingcdn.com.\tA\t203.0.113.53", "netcinema.com.\tNS\tns1.netcinema.com.",
		"Regions us-east, ap-south have no public_ipv4",
		// The steering service, at a documentation address until set.
		"http://203.0.113.1/TITLE/manifest.mpd from streamcdn-us-east: a documentation address; reserve a static IP and set steering.public_ipv4"} {
		if !strings.Contains(d, want) {
			t.Errorf("delegation lacks %q:\n%s", want, d)
		}
	}
	top.Steering.PublicIPv4 = "198.51.100.70"
	if d := Delegation(top); !strings.Contains(d, "http://198.51.100.70/TITLE/manifest.mpd from streamcdn-us-east.") || strings.Contains(d, "steering.public_ipv4") {
		t.Errorf("delegation with the steering service's address:\n%s", d)
	}
}

func TestWriteReplaces(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	if err := Write(dir, map[string][]byte{"a/old.yaml": []byte("x")}); err != nil {
		t.Fatal(err)
	}
	if err := Write(dir, map[string][]byte{"b/new.yaml": []byte("y")}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "a", "old.yaml")); err == nil {
		t.Error("a file of the previous render is left")
	}
	if b, err := os.ReadFile(filepath.Join(dir, "b", "new.yaml")); err != nil || string(b) != "y" {
		t.Errorf("new.yaml = %q, %v", b, err)
	}
}

// TestKustomizeBuild builds every region's overlay with kustomize
// (kubectl kustomize, offline) when kubectl is installed, and decodes
// what it makes strictly: each object in the region's namespace.
func TestKustomizeBuild(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl is not installed (Debian: kubernetes-client); the strict decoding of TestRender still runs")
	}
	top, err := deploy.Load(examples.ThreeRegion)
	if err != nil {
		t.Fatal(err)
	}
	files, err := Render(top, Config{})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "k8s")
	if err := Write(dir, files); err != nil {
		t.Fatal(err)
	}
	for _, r := range top.Regions {
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		out, err := exec.CommandContext(ctx, kubectl, "kustomize", filepath.Join(dir, "overlays", r.Name)).Output()
		cancel()
		if err != nil {
			var stderr []byte
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = ee.Stderr
			}
			t.Fatalf("kustomize %s: %v\n%s", r.Name, err, stderr)
		}
		docs := bytes.Split(out, []byte("\n---\n"))
		kinds := map[string]int{}
		for i, doc := range docs {
			obj := decodeStrict(t, fmt.Sprintf("%s #%d", r.Name, i), doc)
			var meta struct {
				Kind     string `json:"kind"`
				Metadata struct {
					Name, Namespace string
				} `json:"metadata"`
			}
			if err := yaml.Unmarshal(doc, &meta); err != nil {
				t.Fatal(err)
			}
			kinds[meta.Kind]++
			ns := meta.Metadata.Namespace
			if meta.Kind == "Namespace" {
				ns = meta.Metadata.Name
			}
			if want := "streamcdn-" + r.Name; ns != want {
				t.Errorf("%s: %T %s in namespace %q, want %q", r.Name, obj, meta.Metadata.Name, ns, want)
			}
		}
		if kinds["StatefulSet"] == 0 || kinds["Namespace"] != 1 || kinds["Service"] == 0 {
			t.Errorf("%s: kustomize made %v", r.Name, kinds)
		}
	}
}

// TestConfigChecksum: every edge, shield and origin pod reads its flags
// from the ConfigMap rendered beside it, and carries that file's SHA-256,
// so that changing the configuration rolls the pods.
func TestConfigChecksum(t *testing.T) {
	top, err := deploy.Load(examples.ThreeRegion)
	if err != nil {
		t.Fatal(err)
	}
	files, err := Render(top, Config{})
	if err != nil {
		t.Fatal(err)
	}
	pods := 0
	for path, b := range files {
		sums := map[string]string{} // ConfigMap name -> SHA-256 of its file
		type pod struct {
			name     string
			template corev1.PodTemplateSpec
		}
		var found []pod
		for _, doc := range bytes.Split(b, []byte("---\n")) {
			switch o := decodeStrict(t, path, doc).(type) {
			case *corev1.ConfigMap:
				for k, v := range o.Data {
					if k == "edge.json" || k == "origin.json" {
						sums[o.Name] = fmt.Sprintf("%x", sha256.Sum256([]byte(v)))
					}
				}
			case *appsv1.StatefulSet:
				found = append(found, pod{o.Name, o.Spec.Template})
			case *appsv1.Deployment:
				if o.Name == "origin" {
					found = append(found, pod{o.Name, o.Spec.Template})
				}
			}
		}
		for _, p := range found {
			pods++
			var cm string
			for _, v := range p.template.Spec.Volumes {
				if v.Name == "config" && v.ConfigMap != nil {
					cm = v.ConfigMap.Name
				}
			}
			args := p.template.Spec.Containers[0].Args
			if cm == "" || sums[cm] == "" || len(args) != 3 || args[1] != "--config" {
				t.Errorf("%s: %s: config volume %q (rendered beside it: %v), args %q", path, p.name, cm, sums[cm] != "", args)
				continue
			}
			if got := p.template.Annotations["streamcdn.io/config-sha256"]; got != sums[cm] {
				t.Errorf("%s: %s: config-sha256 %s, want %s (of %s)", path, p.name, got, sums[cm], cm)
			}
		}
	}
	if pods != 6 { // base edge, three regions' edge patches, shield, origin
		t.Errorf("%d pods with a configuration, want 6", pods)
	}
}

// checkSteer: the steering service's rendered configuration is one it
// accepts, with every edge cluster at its public address, read through
// its admin Service; and every edge reports to the service.
func checkSteer(t *testing.T, path string, top *deploy.Topology, js string) {
	t.Helper()
	if top.Steering == nil {
		t.Errorf("%s: a steering service for a topology without one", path)
		return
	}
	cfg, err := steer.LoadConfig([]byte(js))
	if err != nil {
		t.Fatalf("%s: steer.json: %v", path, err)
	}
	if cfg.GeoDB == "" || !strings.Contains(cfg.Origin, "origin.") {
		t.Errorf("%s: steer.json: origin %q, geo_db %q", path, cfg.Origin, cfg.GeoDB)
	}
	for i, e := range cfg.Edges {
		if !strings.HasPrefix(e.URL, "http://192.0.2.") || !strings.Contains(e.Admin, "edge-admin."+Namespace(e.Name)+".svc") || e.Capacity <= 0 {
			t.Errorf("%s: edges[%d] = %+v: want a public address, the admin Service and a capacity", path, i, e)
		}
	}
	cfg.GeoDB = "" // the user's database, mounted in the cloud
	if _, err := steer.New(*cfg); err != nil {
		t.Errorf("%s: steer.New: %v", path, err)
	}
}

// TestRenderSteering: with the steering service, its region's overlay
// has it (Deployment, LoadBalancer Service on a public address, admin
// Service), the others do not, and every edge reports to its admin
// Service.
func TestRenderSteering(t *testing.T) {
	top, err := deploy.Load(examples.ThreeRegion)
	if err != nil {
		t.Fatal(err)
	}
	files, err := Render(top, Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range top.Regions {
		_, has := files["overlays/"+r.Name+"/steer.yaml"]
		if has != (r.Name == top.Steering.Region) {
			t.Errorf("overlay %s has the steering service: %v", r.Name, has)
		}
		if !strings.Contains(string(files["overlays/"+r.Name+"/edge-patch.yaml"]), "steer-admin.streamcdn-"+top.Steering.Region+".svc") {
			t.Errorf("%s's edges do not report to the steering service", r.Name)
		}
	}
	kinds := map[string]int{}
	for _, doc := range bytes.Split(files["overlays/"+top.Steering.Region+"/steer.yaml"], []byte("---\n")) {
		switch o := decodeStrict(t, "steer.yaml", doc).(type) {
		case *appsv1.Deployment:
			kinds["Deployment"]++
			if o.Spec.Template.Annotations["streamcdn.io/config-sha256"] == "" {
				t.Error("the steering service's pods do not roll with its configuration")
			}
		case *corev1.Service:
			kinds[string(o.Spec.Type)]++
			if o.Spec.Type == corev1.ServiceTypeLoadBalancer && (o.Spec.LoadBalancerIP == "" || o.Spec.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyLocal) {
				t.Errorf("the steering service's LoadBalancer: %+v; want an address and the clients' own", o.Spec)
			}
		case *corev1.ConfigMap:
			kinds["ConfigMap"]++
		}
	}
	if kinds["Deployment"] != 1 || kinds["LoadBalancer"] != 1 || kinds["ClusterIP"] != 1 || kinds["ConfigMap"] != 1 {
		t.Errorf("steer.yaml has %v", kinds)
	}
}
