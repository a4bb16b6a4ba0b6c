package h1

import (
	"context"
	"errors"
	"os"
	"sync"
	"time"
)

// reqContext is a request's context: cancelled when the handler returns
// and, as net/http's server does, when the client closes the connection
// while the handler runs. The connection is watched only from the first
// call of Done, so a handler that never waits on its context (a cache
// hit) costs no goroutine and no read; one that goes upstream does
// (http.Client waits on it). A request with a body is not watched: the
// handler reads the connection, and sees the client go away there.
type reqContext struct {
	context.Context
	cancel context.CancelFunc
	c      *conn // nil: not watchable

	mu    sync.Mutex
	ended bool          // the handler returned: no watch starts
	done  chan struct{} // closed when the watch ends; nil: none started
}

// init derives x from parent; c is the connection to watch, nil for
// none.
func (x *reqContext) init(parent context.Context, c *conn) {
	x.Context, x.cancel = context.WithCancel(parent)
	x.c = c
}

func (x *reqContext) Done() <-chan struct{} {
	x.mu.Lock()
	if x.done == nil && !x.ended && x.c != nil {
		x.done = make(chan struct{})
		// No deadline while the handler runs; end sets one in the past.
		// Set here, under mu, so that it is never set after end's.
		_ = x.c.setReadDeadline(time.Time{})
		go x.watch()
	}
	x.mu.Unlock()
	return x.Context.Done()
}

// watch waits for the client's next byte: the next request (it stays in
// the read buffer), the end of the connection (cancel), or end's
// deadline.
func (x *reqContext) watch() {
	defer close(x.done)
	if _, err := x.c.br.Peek(1); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
		x.cancel()
	}
}

// end stops the watch, if it started, and waits for it; then cancels.
// The connection's reader is the server's again.
func (x *reqContext) end() {
	x.mu.Lock()
	x.ended = true
	done := x.done
	x.mu.Unlock()
	if done != nil {
		_ = x.c.setReadDeadline(aLongTimeAgo)
		<-done
	}
	x.cancel()
}

// aLongTimeAgo is a deadline that has passed: it wakes a blocked read.
var aLongTimeAgo = time.Unix(1, 0)

// neverDone is a context that is never cancelled (its parent's Done is
// nil), saying so at once: context.WithCancel asks its parent's Done,
// which on a chain of values asks each link in turn, for every request
// (1% of the edge's cycles serving 100 KiB hits to 1,000 connections).
type neverDone struct{ context.Context }

func (neverDone) Done() <-chan struct{} { return nil }
