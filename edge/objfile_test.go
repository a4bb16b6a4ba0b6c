package edge

import (
	"fmt"
	"net/http"
	"os"
	"testing"
)

// FuzzObjectFile: a file of any bytes either fails the object file's
// checks or reads back as a body of the header's size (its blocks
// verified against their CRCs); it never panics or allocates what the
// file does not hold.
func FuzzObjectFile(f *testing.F) {
	dir := f.TempDir()
	for i, body := range []string{"", "x", string(make([]byte, blockSize+10))} {
		path := fmt.Sprintf("%s/seed-%d", dir, i)
		fh, err := os.Create(path)
		if err != nil {
			f.Fatal(err)
		}
		w, err := newObjectWriter(fh, diskHeader{Key: "/k", Status: 200, Header: http.Header{"Etag": {`"e"`}}})
		if err != nil {
			f.Fatal(err)
		}
		w.Write([]byte(body))
		if _, _, err := w.finish(); err != nil {
			f.Fatal(err)
		}
		fh.Close()
		b, _ := os.ReadFile(path)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		path := t.TempDir() + "/obj"
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		of, err := openObjectFile(path)
		if err != nil {
			return
		}
		defer of.Close()
		body, err := of.readAll()
		if err != nil {
			return
		}
		if int64(len(body)) != of.hdr.Size || of.hdr.Size > int64(len(b)) {
			t.Fatalf("a file of %d bytes that passed its checks read back %d bytes; header says %d", len(b), len(body), of.hdr.Size)
		}
	})
}
