//go:build !unix

package origin

import "os"

// mapFile reads path into memory where mmap is not available.
func mapFile(path string) (data []byte, release func(), err error) {
	data, err = os.ReadFile(path)
	return data, func() {}, err
}
