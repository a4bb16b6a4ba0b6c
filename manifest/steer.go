package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/Eyevinn/dash-mpd/mpd"
)

// Pathway is a place a title's segments can be fetched from: its
// serviceLocation and base URL (ISO/IEC 23009-1 BaseURL@serviceLocation).
type Pathway struct {
	ID string
	// BaseURL is absolute, http or https, and ends in "/": the title's
	// directory on that server.
	BaseURL string
}

// Steering is how an MPD is steered (ISO/IEC 23009-1 ContentSteering,
// DASH-IF Content Steering): the pathways, best first, and the steering
// server that ranks them again as the player plays.
type Steering struct {
	Pathways []Pathway
	// Server is the steering manifest's URL; players add _DASH_pathway
	// and _DASH_throughput to it.
	Server string
	// QueryBeforeStart makes the player ask Server before its first
	// segment.
	QueryBeforeStart bool
}

func (s Steering) validate() error {
	if len(s.Pathways) == 0 {
		return errors.New("steering: no pathway")
	}
	seen := map[string]bool{}
	for _, p := range s.Pathways {
		if err := CheckPathway(p.ID); err != nil {
			return err
		}
		if seen[p.ID] {
			return fmt.Errorf("steering: pathway %q twice", p.ID)
		}
		seen[p.ID] = true
		u, err := url.Parse(p.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || !strings.HasSuffix(u.Path, "/") {
			return fmt.Errorf("steering: pathway %q: base URL %q: want an absolute http(s) URL ending in /", p.ID, p.BaseURL)
		}
	}
	if u, err := url.Parse(s.Server); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("steering: server %q: want an absolute http(s) URL", s.Server)
	}
	return nil
}

// CheckPathway accepts what a serviceLocation and a _DASH_pathway value
// may carry here: 1 to 64 letters, digits, '-', '_' and '.'.
func CheckPathway(id string) error {
	if id == "" || len(id) > 64 {
		return fmt.Errorf("steering: pathway %q: want 1 to 64 characters", id)
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("steering: pathway %q: want letters, digits, '-', '_' and '.'", id)
		}
	}
	return nil
}

// Steer rewrites the MPD data, as an origin serves it (segment URLs
// relative to the MPD), for s: one MPD-level BaseURL per pathway, in s's
// order, each with its serviceLocation, and a ContentSteering element
// that names the first as the default and points at the steering
// server. An MPD with an absolute BaseURL of its own cannot be steered.
func Steer(data []byte, s Steering) ([]byte, error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	m, err := decode(data)
	if err != nil {
		return nil, err
	}
	rel := ""
	switch len(m.BaseURL) {
	case 0:
	case 1:
		u, err := url.Parse(string(m.BaseURL[0].Value))
		if err != nil || u.IsAbs() || u.Host != "" {
			return nil, fmt.Errorf("steering: the MPD's own BaseURL %q is not relative", m.BaseURL[0].Value)
		}
		rel = string(m.BaseURL[0].Value)
	default:
		return nil, errors.New("steering: the MPD has BaseURLs of its own")
	}
	m.BaseURL = nil
	for _, p := range s.Pathways {
		base, _ := url.Parse(p.BaseURL) // checked by validate
		r, _ := url.Parse(rel)
		m.BaseURL = append(m.BaseURL, &mpd.BaseURLType{Value: mpd.AnyURI(base.ResolveReference(r).String()), ServiceLocation: p.ID})
	}
	m.ContentSteering = &mpd.ContentSteeringType{DefaultServiceLocation: s.Pathways[0].ID,
		QueryBeforeStart: s.QueryBeforeStart, Value: s.Server}
	var out bytes.Buffer
	if _, err := m.Write(&out, "  ", true); err != nil {
		return nil, fmt.Errorf("steering: write mpd: %w", err)
	}
	return out.Bytes(), nil
}

// SteeringManifest is a DASH Content Steering Manifest (DCSM; DASH-IF
// Content Steering, whose fields are those of HLS's steering manifest).
type SteeringManifest struct {
	// Version is 1.
	Version int `json:"VERSION"`
	// TTL is the seconds until the player asks again.
	TTL int `json:"TTL"`
	// ReloadURI, when set, is where the player asks next.
	ReloadURI string `json:"RELOAD-URI,omitempty"`
	// PathwayPriority are the serviceLocations, best first.
	PathwayPriority []string `json:"PATHWAY-PRIORITY"`
}

// maxDCSM bounds a steering manifest read from the network.
const maxDCSM = 64 << 10

func (m *SteeringManifest) validate() error {
	if m.Version != 1 {
		return fmt.Errorf("steering manifest: VERSION %d: want 1", m.Version)
	}
	if m.TTL < 0 || m.TTL > 86400 {
		return fmt.Errorf("steering manifest: TTL %d: want 0 to 86400 seconds", m.TTL)
	}
	if m.ReloadURI != "" {
		if _, err := url.Parse(m.ReloadURI); err != nil {
			return fmt.Errorf("steering manifest: RELOAD-URI: %w", err)
		}
	}
	if len(m.PathwayPriority) == 0 || len(m.PathwayPriority) > 64 {
		return fmt.Errorf("steering manifest: PATHWAY-PRIORITY: %d pathways, want 1 to 64", len(m.PathwayPriority))
	}
	for i, id := range m.PathwayPriority {
		if err := CheckPathway(id); err != nil {
			return err
		}
		if slices.Contains(m.PathwayPriority[:i], id) {
			return fmt.Errorf("steering manifest: pathway %q twice", id)
		}
	}
	return nil
}

// Marshal writes the manifest as JSON, once it is valid.
func (m *SteeringManifest) Marshal() ([]byte, error) {
	if err := m.validate(); err != nil {
		return nil, err
	}
	return json.Marshal(m)
}

// ParseSteeringManifest reads a steering manifest: one JSON object with
// VERSION 1, a TTL and a non-empty PATHWAY-PRIORITY of distinct
// pathways. Fields it does not know (PATHWAY-CLONES) are ignored, as
// players ignore them.
func ParseSteeringManifest(data []byte) (*SteeringManifest, error) {
	if len(data) > maxDCSM {
		return nil, fmt.Errorf("steering manifest: %d bytes, at most %d", len(data), maxDCSM)
	}
	var m SteeringManifest
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("steering manifest: %w", err)
	}
	if dec.More() {
		return nil, errors.New("steering manifest: more than one JSON value")
	}
	if err := m.validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// SteeringQuery is what a player reports when it asks for a steering
// manifest: the pathway it uses and the throughput it measures.
type SteeringQuery struct {
	// Pathway is _DASH_pathway; "" before the first segment.
	Pathway string
	// ThroughputBPS is _DASH_throughput in bits per second; 0 when not
	// reported.
	ThroughputBPS int64
}

// ParseSteeringQuery reads _DASH_pathway and _DASH_throughput from a
// steering request's query.
func ParseSteeringQuery(q url.Values) (SteeringQuery, error) {
	var sq SteeringQuery
	if p := q.Get("_DASH_pathway"); p != "" {
		// dash.js quotes the value, as HLS's _HLS_pathway is.
		p = strings.Trim(p, `"`)
		if err := CheckPathway(p); err != nil {
			return sq, fmt.Errorf("_DASH_pathway: %w", err)
		}
		sq.Pathway = p
	}
	if t := q.Get("_DASH_throughput"); t != "" {
		n, err := strconv.ParseInt(t, 10, 64)
		if err != nil || n < 0 {
			return sq, fmt.Errorf("_DASH_throughput %q: want bits per second", t)
		}
		sq.ThroughputBPS = n
	}
	return sq, nil
}
