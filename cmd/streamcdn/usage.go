package main

import (
	"flag"
	"fmt"
	"io"
)

// usage is what "streamcdn CMD -h" prints above the flags: how the
// command is called, what it does, and examples.
type usage struct {
	synopsis, about string
	examples        []string
}

// usages are the commands' help, by flag set name.
var usages = map[string]usage{
	"package": {"streamcdn package (-i INPUT | --sample | --renditions A,B,...) -o DIR [flags]",
		"Packages a video into a ladder of CMAF segments and a DASH MPD: ffmpeg transcodes each rung,\nmp4ff cuts the segments; the output appears at DIR whole or not at all.",
		[]string{"streamcdn package -i input.mp4 -o titles/mytitle --ladder 360p:400k,720p:3000k",
			"streamcdn package --sample -o titles/sample --profile ondemand",
			"streamcdn package --renditions 360p.mp4,720p.mp4,audio.mp4 -o titles/t"}},
	"origin": {"streamcdn origin --dir DIR [flags]",
		"Serves packaged titles like a CDN origin: Range, ETag and 304, CORS, metrics, access log, TLS.",
		[]string{"streamcdn origin --dir titles --listen 127.0.0.1:8080 --admin 127.0.0.1:9080",
			"curl -H 'Range: bytes=0-1023' http://127.0.0.1:8080/mytitle/720p/1.m4s"}},
	"edge": {"streamcdn edge --upstream URL [flags]",
		"A caching edge (or a shield) in front of an origin: pull on a miss, coalesced, RFC 9111; a pinned\narea for pushed titles; memory and disk tiers; reports RTT and load to the DNS and the steering service.",
		[]string{"STREAMCDN_ADMIN_TOKEN=s3cret streamcdn edge --upstream http://127.0.0.1:8080 --pinned /var/cache/pinned",
			"streamcdn edge --upstream http://127.0.0.1:8080 --mem 1GiB --disk /var/cache/edge --disk-size 20GiB",
			"curl -H 'Authorization: Bearer s3cret' -X POST 'http://127.0.0.1:9081/purge?prefix=/mytitle/'"}},
	"push": {"streamcdn push (--mpd URL | --popular N --origin URL --origin-admin URL) --edge ADMIN_URL... [flags]",
		"Fills edges' pinned areas ahead of demand: a title, or the most requested titles, each object checked.",
		[]string{"streamcdn push --mpd http://127.0.0.1:8080/mytitle/manifest.mpd --edge http://127.0.0.1:9081",
			"streamcdn push --popular 10 --since 24h --origin-admin http://127.0.0.1:9080 --origin http://127.0.0.1:8080 --edge http://127.0.0.1:9081"}},
	"play": {"streamcdn play URL [flags]",
		"A headless DASH player: ABR, a playout buffer, every segment checked; over real HTTP, optionally shaped by a trace.",
		[]string{"streamcdn play http://127.0.0.1:8080/sample/manifest.mpd",
			"streamcdn play --abr bola --trace ../shared/traces/sabre/3G/report.2010-09-13_1003CEST.json --speed 4 URL",
			"streamcdn play --resolver 127.0.0.53:53 http://video.netcinema.com:8080/sample/manifest.mpd"}},
	"bench": {"streamcdn bench [--url URL] [--players N] [--abr a,b,c] [flags]",
		"Runs a fleet of players against a server, or in virtual time on the built-in video and traces.",
		[]string{"streamcdn bench --players 40 --abr bola,bolae,throughput",
			"streamcdn bench --url http://127.0.0.1:8081/sample/manifest.mpd --players 20 --speed 4"}},
	"sim": {"streamcdn sim [--video FILE] [--trace FILE|DIR] [--abr a,b,c] [flags]",
		"Runs ABR algorithms in virtual time on network traces (Sabre's model); the built-in video and traces by default.",
		[]string{"streamcdn sim",
			"streamcdn sim --video ../shared/traces/sabre/bbb.json --trace ../shared/traces/sabre/3G --abr bola,bolae --json"}},
	"wan": {"streamcdn wan --config FILE [flags]",
		"Emulates wide-area links: TCP proxies with delay and rate by client network (deploy up runs them).",
		[]string{"streamcdn wan --config wan-eu-west.json --admin 127.0.2.2:9090"}},
	"": {"streamcdn <command> [flags]", "A video-streaming CDN stack: packager, origin, edges, DNS, steering service, players.",
		[]string{"streamcdn demo", "streamcdn package --sample -o titles/sample && streamcdn origin --dir titles",
			"streamcdn play http://127.0.0.1:8080/sample/manifest.mpd"}},
	"deploy": {"streamcdn deploy <command> [flags]",
		"Runs a topology's CDN across emulated regions on this machine, every component its own process,\nor renders it as Kubernetes manifests.",
		[]string{"streamcdn deploy up -f deploy/examples/three-region.yaml --dir /tmp/cdn",
			"streamcdn deploy play --dir /tmp/cdn --speed 4",
			"streamcdn deploy render -f deploy/examples/world.yaml --target kubernetes --out k8s/"}},
	"dns": {`streamcdn dns --config FILE [flags]
       streamcdn dns explain --config FILE [--client IP | --ecs PREFIX] HOSTNAME
                                   the cluster a client would get, and why (offline)
       streamcdn dns geodb --csv FILE --out FILE
                                   build a MaxMind-format city database from CSV`,
		`An authoritative DNS server for the configured zones (UDP and TCP). The admin
listener serves GET /metrics and GET /healthz without a token; with the bearer
token (--token-file or $STREAMCDN_ADMIN_TOKEN): GET /explain?name=&client=,
POST /rtt, POST /load and POST /drain?cluster=&on=true|false.`,
		[]string{"streamcdn dns --config cdndns/examples/kingcdn.yaml --listen 127.0.0.1:5353",
			"dig @127.0.0.1 -p 5353 video.netcinema.com",
			"streamcdn dns explain --config cdndns/examples/kingcdn.yaml --ecs 203.0.113.0/24 a1105.kingcdn.com"}},
	"steer": {`streamcdn steer --config FILE [flags]
       streamcdn steer explain [--admin URL] [--client IP] [--token-file FILE] TITLE
                                   where a running service sends a client of TITLE, and why`,
		`The steering service (the Netflix flow): it reads every edge's health and
holdings each second and answers players with MPEG-DASH Content Steering:
GET /TITLE/manifest.mpd (the title's MPD, one BaseURL per edge that holds
it, best first for the client) and GET /dcsm/TITLE (the steering manifest).`,
		[]string{"streamcdn steer --config steer.yaml --geo-db cdndns/examples/demo-geo.mmdb",
			"curl http://127.0.0.1:8070/sample/manifest.mpd",
			"streamcdn steer explain --client 127.0.2.100 sample"}},
	"demo": {"streamcdn demo [--topology FILE] [--mode pull|push|hybrid|all] [flags]",
		"Runs a topology as processes (the built-in three-region one by default): both of Kurose & Ross §2.6's\nflows, players through the DNS and players steered, while a cluster fails; then the report.",
		[]string{"streamcdn demo",
			"streamcdn demo --mode all --speed 8",
			"streamcdn demo --topology deploy/examples/world.yaml --duration 60s --port 0"}},
}

// newFlagSet is a command's flag set; its -h prints the command's usage
// (usages) above the flags.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	if u, ok := usages[name]; ok {
		fs.Usage = func() { u.write(stderr, fs) }
	}
	return fs
}

func (u usage) write(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: %s\n\n%s\n\n", u.synopsis, u.about)
	u.writeExamples(w)
	fmt.Fprintln(w, "\nFlags:")
	fs.PrintDefaults()
}

func (u usage) writeExamples(w io.Writer) {
	fmt.Fprintln(w, "Examples:")
	for _, e := range u.examples {
		fmt.Fprintf(w, "  %s\n", e)
	}
}
