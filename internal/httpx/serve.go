package httpx

import (
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"os"
	"strconv"
)

// Content is one representation to be served.
type Content struct {
	// Data, when not nil, is the whole body in memory, written out
	// without copying; Body is then ignored.
	Data []byte
	// Body is read from its start, or sought for ranges. *os.File bodies
	// go out by sendfile.
	Body io.ReadSeeker
	// File, when not nil, holds the whole body from its start; Body is
	// then ignored, and Data, if set, is the same bytes in memory. It is
	// read at offsets and never moved, so one file may serve many
	// requests at once; it goes out by sendfile(2) where the writer is a
	// FileSender that wants it (or Data is not set).
	File        *os.File
	Size        int64
	ContentType string
	Validators
}

// Serve answers a GET or HEAD request for c: the preconditions of RFC 9110
// §13 (304, 412), then Range (206 single part, multipart/byteranges for
// several non-overlapping ranges, 416 when none is satisfiable), else 200.
// Headers the caller set on w before (Cache-Control, CORS, ...) are kept;
// on a 304 they are all kept but the content ones.
//
// It returns the number of body bytes written and the first write error,
// which only means that the client went away.
func Serve(w http.ResponseWriter, r *http.Request, c Content) (int64, error) {
	h := w.Header()
	setValidatorFields(h, c)
	d := Decide(r, c)
	if d.Status == http.StatusNotModified || d.Status == http.StatusPreconditionFailed {
		w.WriteHeader(d.Status)
		return 0, nil
	}
	setTypeField(h, c)
	switch {
	case d.Status == http.StatusRequestedRangeNotSatisfiable:
		h.Set("Content-Range", fmt.Sprintf("bytes */%d", c.Size))
		h.Del("Content-Type")
		http.Error(w, "range not satisfiable", http.StatusRequestedRangeNotSatisfiable)
		return 0, nil
	case d.Ranges != nil:
		return serveMultipart(w, c, d.Ranges)
	case d.Status == http.StatusPartialContent:
		return serveRange(w, c, d.Range)
	}
	return serveWhole(w, r, c)
}

// Decision is how Serve answers a request: Status 200 (Range the whole
// representation), 206 with one Range or several Ranges (multipart), 304,
// 412 or 416.
type Decision struct {
	Status int
	Range  Range
	Ranges []Range // several non-overlapping ranges; nil otherwise
}

// Decide is Serve's choice of answer for r, without writing it: for a
// caller that writes the common answers its own way (a cache's prepared
// hit) and leaves the rest to Serve. A single range is parsed without
// allocating.
func Decide(r *http.Request, c Content) Decision {
	if status := CheckPreconditions(r, c.Validators); status != 0 {
		return Decision{Status: status}
	}
	whole := Decision{Status: http.StatusOK, Range: Range{Length: c.Size}}
	rangeHeader := Field(r.Header, "Range")
	if rangeHeader == "" || r.Method != http.MethodGet || !RangeApplies(r, c.Validators) {
		return whole
	}
	if rg, ok := ParseOneRange(rangeHeader, c.Size); ok {
		return Decision{Status: http.StatusPartialContent, Range: rg}
	}
	ranges, err := ParseRange(rangeHeader, c.Size)
	switch {
	case errors.Is(err, ErrUnsatisfiable):
		return Decision{Status: http.StatusRequestedRangeNotSatisfiable}
	case err != nil, len(ranges) > 1 && overlapping(ranges):
		return whole
	}
	return Decision{Status: http.StatusPartialContent, Ranges: ranges}
}

// ContentFields sets on h what Serve sets for a 200 or a 206 of one
// range besides Content-Length and Content-Range: the validators the
// caller did not set, Accept-Ranges, and Content-Type.
func ContentFields(h http.Header, c Content) {
	setValidatorFields(h, c)
	setTypeField(h, c)
}

// setValidatorFields sets what every answer of Serve carries: ETag and
// Last-Modified unless the caller set them, and Accept-Ranges.
func setValidatorFields(h http.Header, c Content) {
	if c.ETag != "" && len(h["Etag"]) == 0 {
		h["Etag"] = []string{c.ETag}
	}
	if !c.LastModified.IsZero() && len(h["Last-Modified"]) == 0 {
		h.Set("Last-Modified", c.LastModified.UTC().Format(http.TimeFormat))
	}
	h["Accept-Ranges"] = []string{"bytes"}
}

// setTypeField sets Content-Type to c's, for an answer with content.
func setTypeField(h http.Header, c Content) {
	if ct := h["Content-Type"]; c.ContentType != "" && (len(ct) != 1 || ct[0] != c.ContentType) {
		h["Content-Type"] = []string{c.ContentType}
	}
}

func serveWhole(w http.ResponseWriter, r *http.Request, c Content) (int64, error) {
	w.Header()["Content-Length"] = []string{strconv.FormatInt(c.Size, 10)}
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return 0, nil
	}
	return c.copyRange(w, Range{Start: 0, Length: c.Size})
}

func serveRange(w http.ResponseWriter, c Content, rg Range) (int64, error) {
	h := w.Header()
	h["Content-Range"] = []string{rg.ContentRange(c.Size)}
	h["Content-Length"] = []string{strconv.FormatInt(rg.Length, 10)}
	w.WriteHeader(http.StatusPartialContent)
	return c.copyRange(w, rg)
}

func serveMultipart(w http.ResponseWriter, c Content, ranges []Range) (int64, error) {
	mw := multipart.NewWriter(w)
	w.Header().Set("Content-Type", "multipart/byteranges; boundary="+mw.Boundary())
	w.WriteHeader(http.StatusPartialContent)
	var total int64
	for _, rg := range ranges {
		part, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type":  {c.ContentType},
			"Content-Range": {rg.ContentRange(c.Size)},
		})
		if err != nil {
			return total, err
		}
		n, err := c.copyRange(part, rg)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, mw.Close()
}

// NWriterTo is a body that writes n bytes from where it is straight to
// w from its own buffer, with no copy buffer between.
type NWriterTo interface {
	WriteNTo(w io.Writer, n int64) (int64, error)
}

// FileSender is a response writer that sends file bytes itself, by
// sendfile(2) where it can: n bytes of f from offset off, leaving f's
// own offset where it was. WantsFile reports whether it would rather
// send n bytes that way than be given them in memory, when the caller
// has both.
type FileSender interface {
	SendFile(f *os.File, off, n int64) (int64, error)
	WantsFile(n int64) bool
}

// copyRange copies rg of the body to w: File through w's SendFile when
// it wants it or there is no Data (else read at offsets), Data in one
// Write, or Body by Seek then its WriteNTo, or CopyN (which keeps the
// sendfile path of net/http for *os.File bodies).
func (c Content) copyRange(w io.Writer, rg Range) (int64, error) {
	if c.File != nil {
		if fs, ok := w.(FileSender); ok && (c.Data == nil || fs.WantsFile(rg.Length)) {
			return fs.SendFile(c.File, rg.Start, rg.Length)
		}
		if c.Data == nil {
			return io.Copy(w, io.NewSectionReader(c.File, rg.Start, rg.Length))
		}
	}
	if c.Data != nil {
		n, err := w.Write(c.Data[rg.Start : rg.Start+rg.Length])
		return int64(n), err
	}
	body := c.Body
	if _, err := body.Seek(rg.Start, io.SeekStart); err != nil {
		return 0, fmt.Errorf("seek to %d: %w", rg.Start, err)
	}
	if wt, ok := body.(NWriterTo); ok {
		return wt.WriteNTo(w, rg.Length)
	}
	return io.CopyN(w, body, rg.Length)
}
