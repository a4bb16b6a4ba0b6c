package httpx

import (
	"bytes"
	"io"
	"net/http/httptest"
	"testing"
	"testing/synctest"
	"time"
)

// deadlineWriter is a response writer that checks, at each write, that
// the write deadline set last has not passed.
type deadlineWriter struct {
	*httptest.ResponseRecorder
	deadline time.Time
	set      int
	late     []time.Duration // how far past its deadline each late write was
}

func (w *deadlineWriter) SetWriteDeadline(t time.Time) error {
	w.deadline = t
	w.set++
	return nil
}

func (w *deadlineWriter) Write(p []byte) (int, error) {
	if now := time.Now(); !now.Before(w.deadline) {
		w.late = append(w.late, now.Sub(w.deadline))
	}
	return w.ResponseRecorder.Write(p)
}

// TestRecorderSendDeadline: with SendTimeout set, each body write goes
// out under a deadline that has not passed, however long the handler
// took before it, through Write and through ReadFrom.
func TestRecorderSendDeadline(t *testing.T) {
	const timeout = time.Second
	for _, tt := range []struct {
		name  string
		delay time.Duration // before the first body write
		write func(r *Recorder, body []byte) error
	}{
		{"write, at once", 0, func(r *Recorder, b []byte) error { _, err := r.Write(b); return err }},
		{"write, after 3 timeouts", 3 * timeout, func(r *Recorder, b []byte) error { _, err := r.Write(b); return err }},
		{"read from, after 3 timeouts", 3 * timeout, func(r *Recorder, b []byte) error {
			_, err := r.ReadFrom(bytes.NewReader(b))
			return err
		}},
		{"small writes, after 3 timeouts", 3 * timeout, func(r *Recorder, b []byte) error {
			for len(b) > 0 {
				n := min(len(b), 1000)
				if _, err := r.Write(b[:n]); err != nil {
					return err
				}
				b = b[n:]
			}
			return nil
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := &deadlineWriter{ResponseRecorder: httptest.NewRecorder()}
				r := &Recorder{ResponseWriter: w, SendTimeout: timeout}
				r.Start()
				time.Sleep(tt.delay)
				body := bytes.Repeat([]byte("b"), 3*sendChunk+1)
				if err := tt.write(r, body); err != nil {
					t.Fatal(err)
				}
				if len(w.late) > 0 {
					t.Errorf("%d writes after their deadline, the first %v after it", len(w.late), w.late[0])
				}
				if got, _ := io.ReadAll(w.Body); !bytes.Equal(got, body) || r.Bytes != int64(len(body)) {
					t.Errorf("wrote %d bytes (recorded %d), want %d", len(got), r.Bytes, len(body))
				}
				// Start, the first write, and one for each further chunk.
				if want := 1 + 4; w.set != want {
					t.Errorf("%d deadline changes, want %d", w.set, want)
				}
			})
		})
	}
}

// keeperWriter is a response writer that keeps the send timeout itself
// when keeps is true, and counts its writes.
type keeperWriter struct {
	deadlineWriter
	keeps   bool
	timeout time.Duration
	chunk   int
	writes  int
}

func (w *keeperWriter) SetSendTimeout(timeout time.Duration, chunk int) bool {
	w.timeout, w.chunk = timeout, chunk
	return w.keeps
}

func (w *keeperWriter) Write(p []byte) (int, error) {
	w.writes++
	return w.deadlineWriter.Write(p)
}

// TestRecorderHandsOverSendTimeout: a writer that keeps the send timeout
// itself gets it, with the chunk it covers, and the body in one write
// with no deadline set by the Recorder; one that declines gets deadlines
// and the body a chunk at a time.
func TestRecorderHandsOverSendTimeout(t *testing.T) {
	const timeout = time.Second
	body := bytes.Repeat([]byte("k"), 3*sendChunk+1)
	for _, tt := range []struct {
		keeps             bool
		writes, deadlines int
	}{
		{true, 1, 0},
		{false, 4, 1 + 4},
	} {
		w := &keeperWriter{deadlineWriter: deadlineWriter{ResponseRecorder: httptest.NewRecorder()}, keeps: tt.keeps}
		r := &Recorder{ResponseWriter: w, SendTimeout: timeout}
		r.Start()
		if _, err := r.Write(body); err != nil {
			t.Fatal(err)
		}
		if w.timeout != timeout || w.chunk != sendChunk {
			t.Errorf("keeps %v: SetSendTimeout(%v, %d), want (%v, %d)", tt.keeps, w.timeout, w.chunk, timeout, sendChunk)
		}
		if w.writes != tt.writes || w.set != tt.deadlines {
			t.Errorf("keeps %v: %d writes and %d deadlines, want %d and %d", tt.keeps, w.writes, w.set, tt.writes, tt.deadlines)
		}
		if w.Body.Len() != len(body) || r.Bytes != int64(len(body)) {
			t.Errorf("keeps %v: wrote %d bytes (recorded %d), want %d", tt.keeps, w.Body.Len(), r.Bytes, len(body))
		}
	}
}
