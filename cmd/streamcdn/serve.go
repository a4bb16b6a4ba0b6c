package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/streamcdn/streamcdn/internal/certs"
	"github.com/streamcdn/streamcdn/internal/serve"
)

// frontFlags are the flags of a server's HTTP front, the origin's and the
// edge's alike: its access log and its TLS certificates.
type frontFlags struct {
	accessPath, accessFormat *string
	certFiles, keyFiles      *stringList
}

func addFrontFlags(fs *flag.FlagSet) frontFlags {
	f := frontFlags{certFiles: new(stringList), keyFiles: new(stringList)}
	f.accessPath = fs.String("access-log", "", "Write a line per request to this file (- for standard output): nginx's combined fields, then cache status, upstream status, duration and the CMCD session id. SIGHUP reopens it, for logrotate. Empty: no access log.")
	f.accessFormat = fs.String("access-log-format", "text", "The access log's format: text or json.")
	fs.Var(f.certFiles, "tls-cert", "Serve HTTPS (and HTTP/2 by ALPN) with this PEM certificate chain, on every listener. Repeat with --tls-key for more names: the client's server name (SNI) picks one. Reloaded when the files change or on SIGHUP.")
	fs.Var(f.keyFiles, "tls-key", "The PEM private key of the --tls-cert in the same position.")
	return f
}

// open opens the front the flags describe (serve.OpenFront).
func (f frontFlags) open(ctx context.Context, log *slog.Logger, stdout io.Writer) (serve.Front, error) {
	if len(*f.certFiles) != len(*f.keyFiles) {
		return serve.Front{}, fmt.Errorf("tls: %d --tls-cert and %d --tls-key: give them in pairs", len(*f.certFiles), len(*f.keyFiles))
	}
	var pairs []certs.Pair
	for i := range *f.certFiles {
		pairs = append(pairs, certs.Pair{Cert: (*f.certFiles)[i], Key: (*f.keyFiles)[i]})
	}
	return serve.OpenFront(ctx, serve.FrontConfig{AccessLog: *f.accessPath, AccessFormat: *f.accessFormat, Certs: pairs, Stdout: stdout, Logger: log})
}
