package main

import "testing"

func TestMemoryTargets(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		name               string
		limit, files, live int64
		wantLimit          int64
		wantPercent        int
	}{
		{"nothing in memfds, large heap", 1152 * mib, 0, 500 * mib, 1152 * mib, 100},
		{"files taken off the limit", 1152 * mib, 300 * mib, 40 * mib, 852 * mib, 100},
		{"whole MiB", 1152 * mib, 300*mib + 5, 40 * mib, 851 * mib, 100},
		{"never under the overhead", 100 * mib, 99 * mib, 40 * mib, edgeMemOverhead, 100},
		{"small heap: goal raised to the floor", 1152 * mib, 70 * mib, 4 * mib, 1082 * mib, 1500},
		{"at half the floor: the default", 1152 * mib, 0, heapFloor / 2, 1152 * mib, 100},
		{"no heap measured yet", 1152 * mib, 0, 0, 1152 * mib, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gotLimit, gotPercent := memoryTargets(tt.limit, tt.files, tt.live)
			if gotLimit != tt.wantLimit || gotPercent != tt.wantPercent {
				t.Errorf("memoryTargets(%d, %d, %d) = %d, %d; want %d, %d", tt.limit, tt.files, tt.live, gotLimit, gotPercent, tt.wantLimit, tt.wantPercent)
			}
			if goal := tt.live * int64(100+gotPercent) / 100; tt.live > 0 && goal < heapFloor && gotPercent > 100 {
				t.Errorf("heap goal %d under the floor %d", goal, heapFloor)
			}
		})
	}
}
