package main

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// heapFloor is the least heap goal an edge's collector is given. With
// the memory tier's large bodies in memfds (edge.Config.FileBodyBytes)
// the live Go heap is a few megabytes, and the runtime's goal of twice
// that (4–6 MB) meant, for 100 KiB hits at 64 connections (wrk,
// loopback, 2 cores), 76 collections per 100,000 hits against 1 with
// this floor, and 2–7% more CPU a hit. With no goal below the memory
// limit (GOGC=off) the heap grew over fresh, cache-cold memory and hits
// cost more still.
const heapFloor = 64 << 20

// memoryTargets returns the Go memory limit and GC percent for an edge
// whose process may use limit bytes, of which files are in memfds the
// runtime does not count, with live bytes of live heap: the limit less
// the files (never below edgeMemOverhead), and the percent that makes
// the heap goal at least heapFloor (never below the default 100).
func memoryTargets(limit, files, live int64) (int64, int) {
	goLimit := max(limit-files, edgeMemOverhead) &^ (1<<20 - 1) // whole MiB: not reset on every store
	percent := 100
	if live > 0 && 2*live < heapFloor {
		percent = (int(100*(heapFloor-live)/live) + 9) / 10 * 10 // whole tens, rounded up
	}
	return goLimit, percent
}

// governMemory sets Go's memory limit (if setLimit) and GC percent (if
// setPercent) from memoryTargets every interval until ctx ends. files
// reports the bytes in memfds.
func governMemory(ctx context.Context, limit int64, files func() int64, setLimit, setPercent bool, interval time.Duration) {
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	lastLimit, lastPercent := int64(-1), -1
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		metrics.Read(sample)
		var live int64
		if sample[0].Value.Kind() == metrics.KindUint64 {
			live = int64(sample[0].Value.Uint64())
		}
		goLimit, percent := memoryTargets(limit, files(), live)
		if setLimit && goLimit != lastLimit {
			debug.SetMemoryLimit(goLimit)
			lastLimit = goLimit
		}
		if setPercent && percent != lastPercent {
			debug.SetGCPercent(percent)
			lastPercent = percent
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
