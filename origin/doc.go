// Package origin packages video into a multi-bitrate DASH ladder and serves
// packaged titles over HTTP the way a CDN origin must.
//
// # Packaging
//
// Package runs one ffmpeg process (from PATH) that decodes the input once
// and encodes every rung of the ladder in parallel (H.264 High, closed
// GOPs, an IDR forced at every segment boundary, VBV capped at the rung's
// rate) and the audio (AAC-LC). Our own code then cuts the encoded files
// into CMAF segments with github.com/Eyevinn/mp4ff: every rendition is cut
// at the same presentation times, so players can switch at any segment. The
// encoder's edit lists (B-frame delay, AAC priming) become the MPD's
// presentationTimeOffset. Repackage rewrites an existing title (the
// built-in sample) in the other profile without transcoding.
//
// A title is a directory:
//
//	<title>/manifest.mpd
//	<title>/<rep>/init.mp4, <title>/<rep>/<n>.m4s   live profile
//	<title>/<rep>.mp4                              on-demand profile (init + sidx + fragments)
//
// It is written into a hidden staging directory beside its final place,
// every file and directory fsynced, and renamed into place: a failed or
// interrupted run leaves no title that looks complete.
//
// # Serving
//
// Server is an http.Handler over a directory of titles, opened with
// os.Root so that neither ".." nor a symlink can escape it. It answers GET
// and HEAD with Content-Type, a strong ETag, Last-Modified and
// Cache-Control (segments immutable for a year, MPDs for seconds);
// conditional requests per RFC 9110 §13 (304, 412); single ranges as 206
// and several non-overlapping ranges as multipart/byteranges (RFC 9110
// §14), 416 when unsatisfiable, If-Range; CORS with Timing-Allow-Origin for
// browser players; and OPTIONS preflights. Server does not listen: the
// caller owns sockets. It counts the requests of each title per minute;
// Admin serves those counts (GET /titles?since=24h) for popularity-driven
// pushes.
//
// # Pushing
//
// Push fills edges' pinned areas with a title ahead of demand: it parses
// the MPD, fetches each object once and uploads it to every edge that
// lacks it (or has another version), the MPD last so that a title shows
// on an edge only once whole; rate-capped per edge, confined to a daily
// Window, resumable. PushPopular does the same for the titles most
// requested over a window, biggest demand first, within each edge's
// pinned budget.
package origin
