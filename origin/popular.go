package origin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/streamcdn/streamcdn/internal/httpx"
	"github.com/streamcdn/streamcdn/internal/pushapi"
)

// PopularConfig configures PushPopular.
type PopularConfig struct {
	// Push is the push to make for each chosen title; its MPD is set
	// per title and its Edges are the candidates.
	Push PushConfig
	// OriginAdmin is the origin's admin base URL, for GET /titles.
	OriginAdmin string
	// Origin is the origin's public base URL; a title's MPD is at
	// Origin/<title>/manifest.mpd.
	Origin string
	// Top is how many of the most requested titles to consider.
	Top int
	// Since is the demand window, e.g. 24h.
	Since time.Duration
}

// perObjectOverhead is what an edge's pinned area adds to each object's
// body (its stored header), for planning against the budget.
const perObjectOverhead = 1 << 10

// PopularReport is the outcome of PushPopular.
type PopularReport struct {
	// Titles are the Top titles by requests, most requested first.
	Titles []TitleDemand `json:"titles"`
	// Plans are, per edge, the titles chosen for it and the ones that did
	// not fit in its pinned budget.
	Plans  []EdgePlan    `json:"plans"`
	Pushes []*PushReport `json:"pushes"`
}

// EdgePlan is what one edge gets.
type EdgePlan struct {
	Edge         string   `json:"edge"`
	FreeBytes    int64    `json:"free_bytes"`
	Titles       []string `json:"titles"`
	DoNotFit     []string `json:"do_not_fit,omitempty"`
	PlannedBytes int64    `json:"planned_bytes"`
}

// PushPopular asks the origin which titles were requested most over the
// window, then pushes them, biggest demand first, to each edge whose
// pinned budget still has room for them (counting what it already holds
// of each title).
func PushPopular(ctx context.Context, cfg PopularConfig) (*PopularReport, error) {
	if cfg.Top <= 0 {
		return nil, errors.New("push: --popular wants a positive number of titles")
	}
	if cfg.Push.Client == nil {
		cfg.Push.Client = &http.Client{Timeout: 5 * time.Minute}
	}
	var d Demand
	u := strings.TrimSuffix(cfg.OriginAdmin, "/") + "/titles?since=" + url.QueryEscape(cfg.Since.String())
	if err := httpx.DoJSON(ctx, cfg.Push.Client, http.MethodGet, u, "", nil, &d); err != nil {
		return nil, fmt.Errorf("push: origin demand: %w", err)
	}
	rep := &PopularReport{Titles: d.Titles[:min(cfg.Top, len(d.Titles))]}
	chosen := map[string][]string{} // title -> edges
	for _, e := range cfg.Push.Edges {
		base := strings.TrimSuffix(e, "/")
		var h pushapi.Holdings
		if err := httpx.DoJSON(ctx, cfg.Push.Client, http.MethodGet, base+"/push/objects?prefix=/", cfg.Push.Token, nil, &h); err != nil {
			return nil, fmt.Errorf("push: edge %s: %w", base, err)
		}
		held := map[string]int64{}
		for _, o := range h.Objects {
			title, _, _ := strings.Cut(strings.TrimPrefix(o.URL, "/"), "/")
			held[title] += o.Size + perObjectOverhead
		}
		plan := EdgePlan{Edge: base, FreeBytes: h.BudgetBytes - h.PinnedBytes}
		free := plan.FreeBytes
		for _, t := range rep.Titles {
			need := max(t.SizeBytes+int64(t.Files)*perObjectOverhead-held[t.Title], 0)
			if need > free {
				plan.DoNotFit = append(plan.DoNotFit, t.Title)
				continue
			}
			free -= need
			plan.PlannedBytes += need
			plan.Titles = append(plan.Titles, t.Title)
			chosen[t.Title] = append(chosen[t.Title], e)
		}
		rep.Plans = append(rep.Plans, plan)
	}
	lims := edgeLimiters(cfg.Push)
	var errs []error
	for _, t := range rep.Titles {
		edges := chosen[t.Title]
		if len(edges) == 0 {
			continue
		}
		pc := cfg.Push
		pc.Edges = edges
		pc.MPD = strings.TrimSuffix(cfg.Origin, "/") + "/" + url.PathEscape(t.Title) + "/" + ManifestName
		pr, err := push(ctx, pc, lims)
		if pr != nil {
			rep.Pushes = append(rep.Pushes, pr)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("title %s: %w", t.Title, err))
			if ctx.Err() != nil {
				break
			}
		}
		if pr != nil && pr.WindowClosed {
			break
		}
	}
	return rep, errors.Join(errs...)
}
