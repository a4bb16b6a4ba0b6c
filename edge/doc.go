// Package edge is a pull-through HTTP cache for video segments: a CDN edge
// or shield that sits in front of an origin (or another edge) and serves
// what it has stored.
//
// Server is an http.Handler. The request path is normalised once ("//",
// "/./", "%2F" aliases are one path), before the title's mode and the
// cache key. GET and HEAD are answered from the cache when RFC 9111
// allows it (a HEAD miss is filled with a GET and stored); every other
// method is forwarded upstream unchanged (path, query and headers) and,
// when it is unsafe and succeeds, invalidates what was stored for its URL
// (RFC 9111 §4.4).
//
// Caching follows RFC 9111 with CDN-Cache-Control (RFC 9213), when
// present, replacing Cache-Control and Expires: what may be stored
// (status, no-store, must-understand, private, Authorization), explicit
// freshness (s-maxage, max-age, Expires, dates parsed strictly) and
// heuristic freshness from Last-Modified, Age, the request
// directives (no-cache, max-age, max-stale, min-fresh, only-if-cached),
// Vary, revalidation with conditional GETs built from the stored
// validators (a 304 refreshes the stored headers, not the body),
// stale-while-revalidate and stale-if-error (RFC 5861), and stale answers
// when upstream cannot be reached (StaleIfDisconnected). A client's
// no-cache is met by a validation under a second old, so reloading crowds
// cost upstream one revalidation a second. There is no default TTL: a
// response with neither explicit freshness nor a validator is not stored.
// Every response carries Cache-Status (RFC 9211) and Via.
//
// Misses are coalesced: concurrent requests for one object (and variant)
// share one upstream fetch, and each streams the body as it arrives. The
// fill runs on its own, so a client that goes away does not cancel it for
// the others. A fill holds its body in memory only within an in-flight
// budget (an eighth of MemoryBytes); beyond it, or of unknown size, the
// body is spooled to an object file that its clients read back and that
// becomes the disk tier's copy. A purge is a generation: a fill that
// started before it never stores what it matched. A fill that fails mid-body is never stored, and each client sees
// the truncation as a reset connection. Range requests are served from
// stored objects and from fills in progress (as soon as their bytes
// arrive), with If-Range; a range miss fetches the whole object once.
// Objects larger than MaxObjectBytes are cached as slices of SliceBytes,
// each fetched upstream with a Range request only when a request needs it.
//
// Storage is two tiers. Memory is a byte-budgeted LRU
// (github.com/hashicorp/golang-lru/v2) behind a TinyLFU admission filter,
// so a scan of one-hit objects cannot flush the hot set. The optional disk
// tier has its own byte budget and leaves a reserve free on its
// filesystem; objects are written there once complete (temp file, fsync,
// rename) as object files whose header and every 64 KiB block are under
// CRC-32C (see objfile.go), its index is rebuilt on start, and every read
// verifies each block before releasing a byte of it: a damaged file is
// dropped, never served. A disk hit is served from its file, and promoted
// to memory (through admission) if small; memory evictions stay on disk.
// A client that takes no 256 KiB of a response within SendTimeout is
// dropped.
//
// # Push
//
// With a PinnedDir the edge also has a pinned area, filled ahead of
// demand the way Netflix's Open Connect appliances are: an object pushed
// with its SHA-256 (Content-Digest) and its response header, or fetched
// by the edge itself from a fill list at a capped rate, becomes visible
// only when whole and verified (temp file, fsync, rename); a checksum
// mismatch or a cut upload leaves nothing. Pinned objects have their own
// byte budget, outside the LRU tiers: pull traffic cannot evict them; they
// stay until unpinned or replaced, and a replacement is atomic for
// readers. Each title (first path segment) is served in a mode: pull
// (fetch on a miss, the pinned area unused), push (pinned objects only; a
// miss is 404 or a redirect to MissRedirect) or hybrid (pinned objects
// first, the rest pulled).
//
// Admin returns the admin handler: /healthz, /readyz, purge by URL or
// prefix, and the push API, behind a bearer token.
package edge
