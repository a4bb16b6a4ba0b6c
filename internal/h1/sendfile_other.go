//go:build !linux

package h1

import "os"

// sendFile is sendfile(2) on Linux; elsewhere file bodies are copied.
func (c *conn) sendFile(f *os.File, off, n int64) (int64, bool) { return 0, false }

func (c *conn) canSendFile() bool { return false }
