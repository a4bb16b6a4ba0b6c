package httpx

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// WriteJSON answers 200 with v as JSON, or 500 if v does not encode
// (a NaN, say): it is encoded whole before anything is written.
func WriteJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil { // never a 200 with half a body
		http.Error(w, "encode the answer: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(append(b, '\n'))
}

// DoJSON sends a request to a JSON API: in, when not nil, as the JSON
// body; token, when set, as a bearer token. A status of 300 or more is an
// error carrying the start of the answer; otherwise, when out is not nil,
// the answer is decoded into it.
func DoJSON(ctx context.Context, c *http.Client, method, url, token string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := c.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode >= 300 {
		return StatusError(res)
	}
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, 256<<20)).Decode(out); err != nil {
		return fmt.Errorf("%s %s: %w", method, req.URL.Redacted(), err)
	}
	return nil
}

// StatusError describes an unwanted answer: the request, the status and
// the start of the body.
func StatusError(res *http.Response) error {
	msg, _ := io.ReadAll(io.LimitReader(res.Body, 512))
	return fmt.Errorf("%s %s: %s: %s", res.Request.Method, res.Request.URL.Redacted(), res.Status, strings.TrimSpace(string(msg)))
}

// Probe GETs url, as a health check does, and returns the status code;
// the body is drained (up to 64 KiB, so that the connection can be
// reused) and closed.
func Probe(ctx context.Context, c *http.Client, url string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	res, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	res.Body.Close()
	return res.StatusCode, nil
}
