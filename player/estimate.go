package player

import "math"

// Estimator is the throughput and latency estimate: two EWMAs with
// half-lives of 3 s and 8 s of download time, bias-corrected for their
// zero start, the more conservative of the two (the lower throughput, the
// higher latency), as dash.js and Sabre keep it. Latency half-lives are
// counted in segments.
type Estimator struct {
	halfLife    [2]float64 // ms
	latHalfLife [2]float64 // segments
	tput, lat   [2]float64
	wTput, wLat float64
	// Throughput and Latency are the current estimates.
	Throughput, Latency float64
	Valid               bool
}

// NewEstimator returns an estimator for segments of segmentMs.
func NewEstimator(segmentMs float64) *Estimator {
	e := &Estimator{halfLife: [2]float64{3000, 8000}}
	for i, h := range e.halfLife {
		e.latHalfLife[i] = h / segmentMs
	}
	return e
}

// Push adds a download of timeMs (latency excluded) at tputKbps after a
// latency of latMs.
func (e *Estimator) Push(timeMs, tputKbps, latMs float64) {
	for i := range e.halfLife {
		a := math.Pow(0.5, timeMs/e.halfLife[i])
		e.tput[i] = a*e.tput[i] + (1-a)*tputKbps
		a = math.Pow(0.5, 1/e.latHalfLife[i])
		e.lat[i] = a*e.lat[i] + (1-a)*latMs
	}
	e.wTput += timeMs
	e.wLat++
	for i := range e.halfLife {
		t := e.tput[i] / (1 - math.Pow(0.5, e.wTput/e.halfLife[i]))
		l := e.lat[i] / (1 - math.Pow(0.5, e.wLat/e.latHalfLife[i]))
		if i == 0 || t < e.Throughput {
			e.Throughput = t
		}
		if i == 0 || l > e.Latency {
			e.Latency = l
		}
	}
	e.Valid = true
}
