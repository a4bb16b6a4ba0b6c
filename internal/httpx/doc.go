// Package httpx holds the HTTP semantics that the origin and the edge both
// serve: byte ranges (RFC 9110 §14), conditional requests (RFC 9110 §13) and
// the writing of 200, 206 (single part and multipart/byteranges), 304, 412
// and 416 responses from any seekable body.
//
// It is internal because its API exists only to keep the origin and the edge
// answering the same request the same way.
package httpx
