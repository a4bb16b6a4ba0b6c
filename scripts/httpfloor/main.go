// Command httpfloor is the floor that scripts/bench-edge.sh measures the
// edge against: a cache that is always warm and does nothing else. At
// start it fetches every path named on its standard input from the
// upstream once and keeps header and body in memory; then it answers
// GET and HEAD for those paths through net/http and internal/httpx (the
// same Range and precondition code as the edge, and the same response
// fields), with no lookup beyond a map, no freshness, metrics or limits.
// What the edge costs beyond it is the cache; what it costs beyond nginx
// is Go's net/http and runtime.
//
// Usage: find titles -type f | sed 's|^titles||' | httpfloor -upstream http://127.0.0.1:8080 -listen 127.0.0.1:8090
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/streamcdn/streamcdn/internal/httpx"
)

type object struct {
	header http.Header
	body   []byte
}

func main() {
	upstream := flag.String("upstream", "", "The origin to fetch from.")
	listen := flag.String("listen", "127.0.0.1:8090", "The address to serve on.")
	flag.Parse()
	if err := run(context.Background(), *upstream, *listen, os.Stdin); err != nil {
		fmt.Fprintln(os.Stderr, "httpfloor:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, upstream, listen string, paths io.Reader) error {
	objects := map[string]object{}
	sc := bufio.NewScanner(paths)
	for sc.Scan() {
		p := sc.Text()
		o, err := fetch(ctx, upstream+p)
		if err != nil {
			return err
		}
		objects[p] = o
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read paths: %w", err)
	}
	return http.ListenAndServe(listen, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o, ok := objects[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		for k, vs := range o.header {
			h[k] = vs
		}
		h["Age"] = []string{"0"}
		h["Via"] = []string{"1.1 httpfloor"}
		h["Cache-Status"] = []string{"httpfloor; hit"}
		_, _ = httpx.Serve(w, r, httpx.Content{Data: o.body, Size: int64(len(o.body)),
			ContentType: httpx.Field(o.header, "Content-Type"),
			Validators:  httpx.Validators{ETag: httpx.Field(o.header, "Etag")}})
	}))
}

func fetch(ctx context.Context, url string) (object, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return object{}, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return object{}, fmt.Errorf("fetch %s: %w", url, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		return object{}, fmt.Errorf("fetch %s: %d, %w", url, res.StatusCode, err)
	}
	h := res.Header.Clone()
	delete(h, "Content-Length") // httpx.Serve writes it, per range
	delete(h, "Date")
	return object{header: h, body: body}, nil
}
