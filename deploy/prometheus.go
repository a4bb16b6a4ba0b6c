package deploy

import (
	"sigs.k8s.io/yaml"
)

// promConfig is the part of Prometheus's configuration file we write.
type promConfig struct {
	Global        promGlobal   `json:"global"`
	ScrapeConfigs []promScrape `json:"scrape_configs"`
}

type promGlobal struct {
	ScrapeInterval     string            `json:"scrape_interval"`
	EvaluationInterval string            `json:"evaluation_interval"`
	ExternalLabels     map[string]string `json:"external_labels,omitempty"`
}

type promScrape struct {
	JobName       string       `json:"job_name"`
	MetricsPath   string       `json:"metrics_path"`
	ScrapeTimeout string       `json:"scrape_timeout,omitempty"`
	StaticConfigs []promStatic `json:"static_configs"`
}

type promStatic struct {
	Targets []string          `json:"targets"`
	Labels  map[string]string `json:"labels,omitempty"`
}

// PrometheusConfig is a Prometheus configuration that scrapes every
// component's admin /metrics every 2 s, one job per kind (origin,
// shield, edge, wan, dns), each target labelled with its component and
// region. extra are more scrape targets (host:port), e.g. the
// controller's own, under job "deploy".
func PrometheusConfig(components []Component, deployment string, extra ...string) ([]byte, error) {
	cfg := promConfig{Global: promGlobal{ScrapeInterval: "2s", EvaluationInterval: "2s",
		ExternalLabels: map[string]string{"deployment": deployment}}}
	jobs := map[string]int{}
	for _, c := range components {
		if c.Kind == KindPrometheus || c.Admin == "" {
			continue
		}
		i, ok := jobs[c.Kind]
		if !ok {
			i = len(cfg.ScrapeConfigs)
			jobs[c.Kind] = i
			cfg.ScrapeConfigs = append(cfg.ScrapeConfigs, promScrape{JobName: c.Kind, MetricsPath: c.Metrics, ScrapeTimeout: "2s"})
		}
		labels := map[string]string{"component": c.Name}
		if c.Region != "" {
			labels["region"] = c.Region
		}
		cfg.ScrapeConfigs[i].StaticConfigs = append(cfg.ScrapeConfigs[i].StaticConfigs,
			promStatic{Targets: []string{c.Admin}, Labels: labels})
	}
	if len(extra) > 0 {
		cfg.ScrapeConfigs = append(cfg.ScrapeConfigs, promScrape{JobName: "deploy", MetricsPath: "/metrics", ScrapeTimeout: "2s",
			StaticConfigs: []promStatic{{Targets: extra, Labels: map[string]string{"component": "controller"}}}})
	}
	return yaml.Marshal(cfg)
}
