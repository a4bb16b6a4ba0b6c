package httpx

import (
	"net"
	"net/http"
	"net/http/httptrace"
)

// ObserveRemote is a RoundTripper that tells, for every response, which
// server address answered it: how a client behind DNS load balancing
// learns the edge it was sent to.
type ObserveRemote struct {
	Next http.RoundTripper
	// Seen is called with the answering connection's remote IP and the
	// response, before the body is read; not for failed round trips.
	Seen func(ip string, res *http.Response)
}

// RoundTrip sends req through Next and reports where the answer came from.
func (o *ObserveRemote) RoundTrip(req *http.Request) (*http.Response, error) {
	var remote string
	trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) {
		if a, ok := i.Conn.RemoteAddr().(*net.TCPAddr); ok {
			remote = a.IP.String()
		}
	}}
	res, err := o.Next.RoundTrip(req.WithContext(httptrace.WithClientTrace(req.Context(), trace)))
	if err == nil {
		o.Seen(remote, res)
	}
	return res, err
}
