//go:build !linux

package serve

// setNotSentLowat leaves the socket as it is: TCP_NOTSENT_LOWAT is set
// on Linux only.
func setNotSentLowat(uintptr, int) error { return nil }
