// Package kube renders a topology as Kubernetes manifests: a Kustomize
// base (the DNS, the edge StatefulSet, the shared configuration) and an
// overlay per region (with the origin, the shield and the steering
// service in theirs), each its own namespace, so that
// `kubectl apply -k overlays/REGION` deploys one region. Objects are
// built from the Kubernetes API types (k8s.io/api) and written as YAML.
package kube

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/streamcdn/streamcdn/cdndns"
	"github.com/streamcdn/streamcdn/deploy"
	"github.com/streamcdn/streamcdn/internal/atomicfile"
	"github.com/streamcdn/streamcdn/internal/pace"
	"github.com/streamcdn/streamcdn/internal/units"
	"github.com/streamcdn/streamcdn/steer"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

// DefaultImage is the streamcdn container image.
const DefaultImage = "ghcr.io/streamcdn/streamcdn:latest"

// Ports inside the pods, and the ports the Services expose.
const (
	edgePort   = 8080
	edgeAdmin  = 9090
	dnsPort    = 5353 // the Service maps 53 to it: no privileged bind
	dnsAdmin   = 9053
	originPort = 8080
	originAdm  = 9080
	steerPort  = 8070
	steerAdmin = 9070
	// TokenSecret is the Secret holding the admin bearer token (key
	// "token"), which the user creates.
	TokenSecret = "streamcdn-admin"
)

// Config says how to render.
type Config struct {
	// Image of streamcdn; if empty, DefaultImage.
	Image string
}

// Namespace is region's namespace.
func Namespace(region string) string { return "streamcdn-" + region }

// Render returns the manifests by relative path.
func Render(t *deploy.Topology, cfg Config) (map[string][]byte, error) {
	if cfg.Image == "" {
		cfg.Image = DefaultImage
	}
	r := &renderer{t: t, cfg: cfg, files: map[string][]byte{}}
	if err := r.render(); err != nil {
		return nil, err
	}
	return r.files, nil
}

type renderer struct {
	t     *deploy.Topology
	cfg   Config
	files map[string][]byte
	err   error
}

func (r *renderer) put(path string, objs ...any) {
	var b []byte
	for i, o := range objs {
		y, err := yaml.Marshal(o)
		if err != nil {
			r.err = errors.Join(r.err, fmt.Errorf("kube: %s: %w", path, err))
			return
		}
		if i > 0 {
			b = append(b, "---\n"...)
		}
		b = append(b, y...)
	}
	r.files[path] = b
}

func labels(component string) map[string]string {
	return map[string]string{"app.kubernetes.io/name": "streamcdn", "app.kubernetes.io/component": component}
}

// publicIP is a region's reserved address, or a documentation address
// (192.0.2.0/24, 198.51.100.0/24) standing for the one to reserve.
func publicIP(set string, doc string, i int) string {
	if set != "" {
		return set
	}
	return fmt.Sprintf("%s.%d", doc, i+1)
}

func (r *renderer) render() error {
	t := r.t
	// The DNS configuration, the same in every region: each cluster at
	// its public address, checked through its admin Service.
	var clusters []cdndns.Cluster
	var nsIPs []string
	for i, reg := range t.Regions {
		if reg.Edge == nil {
			continue
		}
		capacity, _ := pace.ParseRate(reg.Edge.Capacity)
		clusters = append(clusters, cdndns.Cluster{Name: reg.Name, Region: reg.Name, Lat: reg.Lat, Lon: reg.Lon,
			IPv4: []string{publicIP(reg.Edge.PublicIPv4, "192.0.2", i)}, Capacity: capacity / 1e6,
			HealthURL: fmt.Sprintf("http://edge-admin.%s.svc.cluster.local:%d/readyz", Namespace(reg.Name), edgeAdmin)})
		nsIPs = append(nsIPs, publicIP(reg.Edge.DNSIPv4, "198.51.100", i))
	}
	dcfg := t.DNSConfig(clusters, nsIPs)
	dcfg.Geo = nil // loopback networks mean nothing in a cloud: a GeoLite2 database locates clients
	dcfg.GeoDB = "/etc/streamcdn/geo/GeoLite2-City.mmdb"
	dj, err := json.MarshalIndent(dcfg, "", "  ")
	if err != nil {
		return err
	}
	r.put("base/dns-config.yaml", &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: "dns-config", Labels: labels("dns")},
		Data:       map[string]string{"dns.json": string(dj) + "\n"},
	})
	r.put("base/dns.yaml", r.dnsDeployment(), r.dnsService())
	baseEdge, baseEdgeConfig := r.edge("edge", "REGION", deploy.Cluster{Nodes: 1, Memory: "256MiB"}, "http://origin:8080")
	r.put("base/edge.yaml", baseEdgeConfig, baseEdge,
		r.service("edge", corev1.ServiceTypeLoadBalancer, "edge", 80, edgePort, ""), r.service("edge-admin", corev1.ServiceTypeClusterIP, "edge", edgeAdmin, edgeAdmin, ""))
	r.putKustomization("base/kustomization.yaml", kustomization{Resources: []string{"dns-config.yaml", "dns.yaml", "edge.yaml"},
		Labels: []kustomizeLabels{{Pairs: map[string]string{"app.kubernetes.io/part-of": t.Name}}}})
	upstream := fmt.Sprintf("http://origin.%s.svc.cluster.local:%d", Namespace(t.Origin.Region), originPort)
	if t.Shield != nil {
		upstream = fmt.Sprintf("http://shield.%s.svc.cluster.local:%d", Namespace(t.Shield.Region), edgePort)
	}
	for i, reg := range t.Regions {
		ov := "overlays/" + reg.Name + "/"
		ns := Namespace(reg.Name)
		k := kustomization{Namespace: ns, Resources: []string{"namespace.yaml", "../../base"},
			Labels: []kustomizeLabels{{Pairs: map[string]string{"streamcdn.io/region": reg.Name}}}}
		r.put(ov+"namespace.yaml", &corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
			ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{"streamcdn.io/region": reg.Name}}})
		if reg.Name == t.Origin.Region {
			k.Resources = append(k.Resources, "origin.yaml")
			od, oc := r.originDeployment()
			r.put(ov+"origin.yaml", oc, od, r.originVolume(),
				r.service("origin", corev1.ServiceTypeClusterIP, "origin", originPort, originPort, ""))
		}
		if t.Shield != nil && reg.Name == t.Shield.Region {
			k.Resources = append(k.Resources, "shield.yaml")
			up := fmt.Sprintf("http://origin.%s.svc.cluster.local:%d", Namespace(t.Origin.Region), originPort)
			shield, shieldConfig := r.edge("shield", reg.Name, deploy.Cluster{Nodes: 1, Memory: t.Shield.Memory, Mode: "pull"}, up)
			r.put(ov+"shield.yaml", shieldConfig, shield,
				r.service("shield", corev1.ServiceTypeClusterIP, "shield", edgePort, edgePort, ""))
		}
		if t.Steering != nil && reg.Name == t.Steering.Region {
			k.Resources = append(k.Resources, "steer.yaml")
			objs, err := r.steer()
			if err != nil {
				return err
			}
			r.put(ov+"steer.yaml", objs...)
		}
		if reg.Edge != nil {
			e := reg.Edge
			patch, config := r.edge("edge", reg.Name, *e, upstream)
			r.put(ov+"edge-patch.yaml", config, patch)
			svc := r.service("edge", corev1.ServiceTypeLoadBalancer, "edge", 80, edgePort, publicIP(e.PublicIPv4, "192.0.2", i))
			svc.Spec.Ports = nil // the base's ports stay; the patch sets the address
			svc.Spec.Selector = nil
			dsvc := r.dnsService()
			dsvc.Spec.LoadBalancerIP = publicIP(e.DNSIPv4, "198.51.100", i)
			dsvc.Spec.Ports, dsvc.Spec.Selector = nil, nil
			r.put(ov+"service-patch.yaml", svc, dsvc)
			k.Patches = append(k.Patches, kustomizePatch{Path: "edge-patch.yaml"}, kustomizePatch{Path: "service-patch.yaml"})
		} else {
			// Clients only: no edge cluster here.
			k.Patches = append(k.Patches, kustomizePatch{Patch: "$patch: delete\napiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: edge\n"},
				kustomizePatch{Patch: "$patch: delete\napiVersion: v1\nkind: Service\nmetadata:\n  name: edge\n"},
				kustomizePatch{Patch: "$patch: delete\napiVersion: v1\nkind: Service\nmetadata:\n  name: edge-admin\n"})
		}
		r.putKustomization(ov+"kustomization.yaml", k)
	}
	return r.err
}

// kustomization is the part of a kustomize.config.k8s.io/v1beta1
// Kustomization that we write.
type kustomization struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Namespace  string            `json:"namespace,omitempty"`
	Resources  []string          `json:"resources"`
	Labels     []kustomizeLabels `json:"labels,omitempty"`
	Patches    []kustomizePatch  `json:"patches,omitempty"`
}

type kustomizeLabels struct {
	Pairs            map[string]string `json:"pairs"`
	IncludeSelectors bool              `json:"includeSelectors"`
}

type kustomizePatch struct {
	Path  string `json:"path,omitempty"`
	Patch string `json:"patch,omitempty"`
}

func (r *renderer) putKustomization(path string, k kustomization) {
	k.APIVersion, k.Kind = "kustomize.config.k8s.io/v1beta1", "Kustomization"
	r.put(path, k)
}

func (r *renderer) container(name string, args []string, port, admin int32, mem string) corev1.Container {
	// The memory limit is the cache budget plus the process's own use.
	budget, _ := units.ParseSize(mem)
	limit := resource.NewQuantity(budget+256<<20, resource.BinarySI)
	request := resource.NewQuantity(budget+128<<20, resource.BinarySI)
	probe := func(path string, delay int32) *corev1.Probe {
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromString("admin")}},
			InitialDelaySeconds: delay, PeriodSeconds: 5, TimeoutSeconds: 2, FailureThreshold: 3}
	}
	readyPath := "/healthz"
	if name == "edge" || name == "shield" {
		readyPath = "/readyz"
	}
	proto := corev1.ProtocolTCP
	ports := []corev1.ContainerPort{{Name: "admin", ContainerPort: admin, Protocol: proto}}
	if name == "dns" {
		ports = append(ports, corev1.ContainerPort{Name: "dns-udp", ContainerPort: port, Protocol: corev1.ProtocolUDP},
			corev1.ContainerPort{Name: "dns-tcp", ContainerPort: port, Protocol: proto})
	} else {
		ports = append(ports, corev1.ContainerPort{Name: "http", ContainerPort: port, Protocol: proto})
	}
	nonRoot, noEscalation := true, false
	return corev1.Container{
		Name: name, Image: r.cfg.Image, Args: args, Ports: ports,
		Env: []corev1.EnvVar{{Name: "STREAMCDN_ADMIN_TOKEN", ValueFrom: &corev1.EnvVarSource{
			SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: TokenSecret}, Key: "token"}}}},
		Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: *request},
			Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: *limit},
		},
		ReadinessProbe: probe(readyPath, 2),
		LivenessProbe:  probe("/healthz", 10),
		SecurityContext: &corev1.SecurityContext{RunAsNonRoot: &nonRoot, AllowPrivilegeEscalation: &noEscalation,
			Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
	}
}

func scrape(admin int) map[string]string {
	return map[string]string{"prometheus.io/scrape": "true", "prometheus.io/port": strconv.Itoa(admin), "prometheus.io/path": "/metrics"}
}

// edgeStatefulSet runs cluster cl's nodes (an edge cluster, or the
// shield as a cluster of one) in front of upstream, with a volume for
// the pinned area and the disk tier, a tenth over their budgets, in
// whole GiB.
//
// The edge reads its flags from the ConfigMap NAME-config (edge.json,
// keyed by flag name: what "streamcdn edge --config" reads), returned
// too; the pod template carries the file's SHA-256, so that a changed
// configuration rolls the pods.
func (r *renderer) edge(name, region string, cl deploy.Cluster, upstream string) (*appsv1.StatefulSet, *corev1.ConfigMap) {
	flags := map[string]string{"upstream": upstream, "listen": fmt.Sprintf(":%d", edgePort), "admin": fmt.Sprintf(":%d", edgeAdmin),
		"name": name + "-" + region, "region": region, "mem": cl.Memory, "mode": cl.EdgeMode(),
		"pinned": "/var/cache/streamcdn/pinned", "pinned-size": cl.PinnedBudget()}
	if st := r.t.Steering; st != nil && name == "edge" {
		// Client RTT (its LoadBalancer keeps clients' addresses) and load,
		// to the steering service.
		flags["steer-admin"] = fmt.Sprintf("http://steer-admin.%s.svc.cluster.local:%d", Namespace(st.Region), steerAdmin)
		flags["cluster"] = region
	}
	pinned, _ := units.ParseSize(cl.PinnedBudget())
	storage := pinned + pinned/10
	if cl.Disk != "" {
		flags["disk"], flags["disk-size"] = "/var/cache/streamcdn/disk", cl.Disk
		d, _ := units.ParseSize(cl.Disk)
		storage += d + d/10
	}
	const gib = 1 << 30
	storage = (storage + gib - 1) / gib * gib // whole GiB
	config, args, mount, sum := flagsConfig(name, "edge", flags)
	replicas := int32(cl.Nodes)
	c := r.container(name, args, edgePort, edgeAdmin, cl.Memory)
	c.VolumeMounts = []corev1.VolumeMount{{Name: "cache", MountPath: "/var/cache/streamcdn"}, mount}
	annotations := scrape(edgeAdmin)
	annotations["streamcdn.io/config-sha256"] = sum
	return &appsv1.StatefulSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "StatefulSet"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels(name)},
		Spec: appsv1.StatefulSetSpec{
			Replicas:    &replicas,
			ServiceName: name + "-admin",
			Selector:    &metav1.LabelSelector{MatchLabels: labels(name)},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels(name), Annotations: annotations},
				Spec: corev1.PodSpec{Containers: []corev1.Container{c}, TerminationGracePeriodSeconds: ptr(int64(15)),
					SecurityContext: podSecurity(),
					Volumes: []corev1.Volume{{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
						LocalObjectReference: corev1.LocalObjectReference{Name: config.Name}}}}}},
			},
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
				ObjectMeta: metav1.ObjectMeta{Name: "cache"},
				Spec: corev1.PersistentVolumeClaimSpec{
					AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: *resource.NewQuantity(storage, resource.BinarySI)}},
				},
			}},
		},
	}, config
}

// steer is the steering service (the Netflix flow) in its region: its
// configuration (the origin; every edge cluster by its public address,
// read through its admin Service for health and holdings, with its
// capacity), one replica (the edges' load and RTT reports go to it
// through the steer-admin Service, and one replica sees them all), its
// public LoadBalancer and its admin Service.
func (r *renderer) steer() ([]any, error) {
	t := r.t
	cfg := steer.Config{Origin: fmt.Sprintf("http://origin.%s.svc.cluster.local:%d/", Namespace(t.Origin.Region), originPort),
		GeoDB: "/etc/streamcdn/geo/GeoLite2-City.mmdb"}
	for i, reg := range t.Regions {
		if reg.Edge == nil {
			continue
		}
		capacity, _ := pace.ParseRate(reg.Edge.Capacity)
		cfg.Edges = append(cfg.Edges, steer.Edge{Name: reg.Name, URL: "http://" + publicIP(reg.Edge.PublicIPv4, "192.0.2", i) + "/",
			Admin: fmt.Sprintf("http://edge-admin.%s.svc.cluster.local:%d", Namespace(reg.Name), edgeAdmin),
			Lat:   reg.Lat, Lon: reg.Lon, Capacity: capacity / 1e6})
	}
	js, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return nil, err
	}
	js = append(js, '\n')
	config := &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: "steer-config", Labels: labels("steer")},
		Data:       map[string]string{"steer.json": string(js)},
	}
	c := r.container("steer", []string{"steer", "--config", "/etc/streamcdn/steer/steer.json", "--listen", fmt.Sprintf(":%d", steerPort),
		"--admin", fmt.Sprintf(":%d", steerAdmin)}, steerPort, steerAdmin, "64MiB")
	c.VolumeMounts = []corev1.VolumeMount{{Name: "config", MountPath: "/etc/streamcdn/steer", ReadOnly: true},
		{Name: "geo", MountPath: "/etc/streamcdn/geo", ReadOnly: true}}
	d := deployment("steer", 1, c, steerAdmin,
		corev1.Volume{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: config.Name}}}},
		corev1.Volume{Name: "geo", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: "geo-db"}}}})
	d.Spec.Template.Annotations["streamcdn.io/config-sha256"] = fmt.Sprintf("%x", sha256.Sum256(js))
	return []any{config, d,
		r.service("steer", corev1.ServiceTypeLoadBalancer, "steer", 80, steerPort, publicIP(t.Steering.PublicIPv4, "203.0.113", 0)),
		r.service("steer-admin", corev1.ServiceTypeClusterIP, "steer", steerAdmin, steerAdmin, "")}, nil
}

func (r *renderer) dnsDeployment() *appsv1.Deployment {
	c := r.container("dns", []string{"dns", "--config", "/etc/streamcdn/dns/dns.json", "--listen", fmt.Sprintf(":%d", dnsPort),
		"--admin", fmt.Sprintf(":%d", dnsAdmin)}, dnsPort, dnsAdmin, "64MiB")
	c.VolumeMounts = []corev1.VolumeMount{{Name: "config", MountPath: "/etc/streamcdn/dns", ReadOnly: true},
		{Name: "geo", MountPath: "/etc/streamcdn/geo", ReadOnly: true}}
	return deployment("dns", 2, c, dnsAdmin,
		corev1.Volume{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: "dns-config"}}}},
		// The user's GeoLite2-City database, as a ConfigMap named geo-db
		// (binaryData GeoLite2-City.mmdb).
		corev1.Volume{Name: "geo", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: "geo-db"}}}})
}

// imageUser is the user and group of scripts/build-image.sh's image.
const imageUser = 65532

// podSecurity runs a pod as the image's user, with its volumes (the
// cache, the titles) writable by that group.
func podSecurity() *corev1.PodSecurityContext {
	return &corev1.PodSecurityContext{RunAsUser: ptr(int64(imageUser)), RunAsGroup: ptr(int64(imageUser)),
		FSGroup: ptr(int64(imageUser))}
}

// deployment runs replicas of container c, scraped on its admin port.
func deployment(name string, replicas int32, c corev1.Container, admin int, volumes ...corev1.Volume) *appsv1.Deployment {
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels(name)},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels(name)},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels(name), Annotations: scrape(admin)},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{c}, Volumes: volumes, SecurityContext: podSecurity()},
			},
		},
	}
}

func (r *renderer) dnsService() *corev1.Service {
	return &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Name: "dns", Labels: labels("dns")},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Selector: labels("dns"),
			ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyLocal, // keep resolvers' source addresses
			Ports: []corev1.ServicePort{
				{Name: "dns-udp", Port: 53, TargetPort: intstr.FromInt32(dnsPort), Protocol: corev1.ProtocolUDP},
				{Name: "dns-tcp", Port: 53, TargetPort: intstr.FromInt32(dnsPort), Protocol: corev1.ProtocolTCP},
			}},
	}
}

func (r *renderer) service(name string, typ corev1.ServiceType, component string, port, target int32, ip string) *corev1.Service {
	s := &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels(component)},
		Spec: corev1.ServiceSpec{Type: typ, Selector: labels(component), LoadBalancerIP: ip,
			Ports: []corev1.ServicePort{{Name: "http", Port: port, TargetPort: intstr.FromInt32(target), Protocol: corev1.ProtocolTCP}}},
	}
	if typ == corev1.ServiceTypeLoadBalancer {
		s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal // clients' addresses reach the edges (RTT)
	}
	return s
}

// flagsConfig makes the ConfigMap NAME-config holding a streamcdn
// command's flags as CMD.json (keyed by flag name: what "streamcdn CMD
// --config" reads), and returns it with the container's arguments, the
// mount of the file's directory, and the file's SHA-256 for a pod
// annotation, so that a changed configuration rolls the pods.
func flagsConfig(name, cmd string, flags map[string]string) (*corev1.ConfigMap, []string, corev1.VolumeMount, string) {
	js, _ := json.MarshalIndent(flags, "", "  ") // a map of strings always marshals
	js = append(js, '\n')
	config := &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: name + "-config", Labels: labels(name)},
		Data:       map[string]string{cmd + ".json": string(js)},
	}
	dir := "/etc/streamcdn/" + name
	return config, []string{cmd, "--config", dir + "/" + cmd + ".json"}, corev1.VolumeMount{Name: "config", MountPath: dir, ReadOnly: true},
		fmt.Sprintf("%x", sha256.Sum256(js))
}

// originDeployment runs the origin over the titles volume, its flags in
// the ConfigMap origin-config, returned too.
func (r *renderer) originDeployment() (*appsv1.Deployment, *corev1.ConfigMap) {
	config, args, mount, sum := flagsConfig("origin", "origin", map[string]string{"dir": "/srv/titles",
		"listen": fmt.Sprintf(":%d", originPort), "admin": fmt.Sprintf(":%d", originAdm)})
	c := r.container("origin", args, originPort, originAdm, "256MiB")
	c.VolumeMounts = []corev1.VolumeMount{{Name: "titles", MountPath: "/srv/titles", ReadOnly: true}, mount}
	d := deployment("origin", 1, c, originAdm, corev1.Volume{Name: "titles",
		VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "titles"}}},
		corev1.Volume{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: config.Name}}}})
	d.Spec.Template.Annotations["streamcdn.io/config-sha256"] = sum
	return d, config
}

func (r *renderer) originVolume() *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolumeClaim"},
		ObjectMeta: metav1.ObjectMeta{Name: "titles", Labels: labels("origin")},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("50Gi")}},
		},
	}
}

// Delegation is what the user adds at their registrar: the NS records
// of both zones and the glue addresses of the name servers, one per
// region's DNS.
func Delegation(t *deploy.Topology) string {
	var b strings.Builder
	fmt.Fprintln(&b, "Delegate both zones to the regions' DNS LoadBalancers (at each zone's registrar):")
	for _, zone := range []string{t.DNS.Provider, t.DNS.CDN} {
		zone = strings.TrimSuffix(zone, ".")
		n := 0
		for i, reg := range t.Regions {
			if reg.Edge == nil {
				continue
			}
			n++
			ip := publicIP(reg.Edge.DNSIPv4, "198.51.100", i)
			fmt.Fprintf(&b, "  %s.\tNS\tns%d.%s.\n  ns%d.%s.\tA\t%s\t; glue, %s's dns Service\n", zone, n, zone, n, zone, ip, reg.Name)
		}
	}
	var docs []string
	for _, reg := range t.Regions {
		if reg.Edge != nil && (reg.Edge.PublicIPv4 == "" || reg.Edge.DNSIPv4 == "") {
			docs = append(docs, reg.Name)
		}
	}
	if len(docs) > 0 {
		fmt.Fprintf(&b, "Regions %s have no public_ipv4/dns_ipv4 in the topology: the manifests use documentation\n"+
			"addresses (192.0.2.x, 198.51.100.x); reserve static IPs and set them.\n", strings.Join(docs, ", "))
	}
	if st := t.Steering; st != nil {
		ip := publicIP(st.PublicIPv4, "203.0.113", 0)
		fmt.Fprintf(&b, "The steering service (the Netflix flow) answers players at http://%s/TITLE/manifest.mpd from %s", ip, Namespace(st.Region))
		if st.PublicIPv4 == "" {
			fmt.Fprint(&b, ": a documentation address; reserve a static IP and set steering.public_ipv4")
		}
		fmt.Fprintln(&b, ".")
	}
	fmt.Fprintf(&b, "Before applying: kubectl create secret generic %s --from-literal=token=... in each namespace,\n"+
		"and a ConfigMap geo-db holding GeoLite2-City.mmdb for the DNS.\n", TokenSecret)
	return b.String()
}

// Write replaces dir with files: written beside it, then renamed.
func Write(dir string, files map[string][]byte) error {
	if err := os.MkdirAll(filepath.Dir(filepath.Clean(dir)), 0o755); err != nil {
		return fmt.Errorf("kube: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(filepath.Clean(dir)), ".render-")
	if err != nil {
		return fmt.Errorf("kube: %w", err)
	}
	defer os.RemoveAll(tmp)
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, p := range paths {
		full := filepath.Join(tmp, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return fmt.Errorf("kube: %w", err)
		}
		if err := atomicfile.Write(full, files[p]); err != nil {
			return fmt.Errorf("kube: %w", err)
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("kube: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("kube: %w", err)
	}
	return atomicfile.SyncDir(filepath.Dir(filepath.Clean(dir)))
}

func ptr[T any](v T) *T { return &v }
