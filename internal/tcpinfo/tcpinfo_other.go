//go:build !linux

package tcpinfo

import "time"

func rttOf(uintptr) (time.Duration, error) { return 0, ErrUnsupported }
