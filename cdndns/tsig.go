package cdndns

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// The server knows one TSIG key (RFC 8945): the well-known key, named ".",
// HMAC-SHA256 with 32 zero octets, which the DNS compliance tests
// (ISC's genreport, "dnswkk") sign a query with. It authenticates nothing,
// as anyone can sign with it, and it grants nothing (the server takes no
// updates or transfers), but it shows the server speaks TSIG: a query
// signed with it is verified and its answer signed; any other key gets
// NOTAUTH with BADKEY, a bad MAC BADSIG, and a clock outside the fudge
// BADTIME (signed, with our time).

// wellKnownKey is the dns.TsigProvider of the well-known key.
type wellKnownKey struct{}

func (wellKnownKey) Generate(msg []byte, t *dns.TSIG) ([]byte, error) {
	if t.Hdr.Name != "." {
		return nil, dns.ErrSecret
	}
	if dns.CanonicalName(t.Algorithm) != dns.HmacSHA256 {
		return nil, dns.ErrKeyAlg
	}
	h := hmac.New(sha256.New, make([]byte, sha256.Size))
	h.Write(msg)
	return h.Sum(nil), nil
}

func (k wellKnownKey) Verify(msg []byte, t *dns.TSIG) error {
	want, err := k.Generate(msg, t)
	if err != nil {
		return err
	}
	mac, err := hex.DecodeString(t.MAC)
	if err != nil || !hmac.Equal(want, mac) {
		return dns.ErrSig
	}
	return nil
}

// tsigReserve is the room the TSIG of an answer to req takes, 0 when req
// is not signed.
func tsigReserve(req *dns.Msg) int {
	t := req.IsTsig()
	if t == nil {
		return 0
	}
	return dns.Len(&dns.TSIG{Hdr: dns.RR_Header{Name: t.Hdr.Name, Rrtype: dns.TypeTSIG, Class: dns.ClassANY},
		Algorithm: t.Algorithm, MACSize: sha256.Size, MAC: strings.Repeat("00", sha256.Size),
		OtherLen: 6, OtherData: strings.Repeat("00", 6)})
}

// signed returns m to send for req, which carries the TSIG t: m with a
// TSIG record the writer signs when w verified req, else the TSIG error
// answer of RFC 8945 §5.2 in its place.
func signed(w dns.ResponseWriter, req, m *dns.Msg, t *dns.TSIG, now time.Time) *dns.Msg {
	var tsigErr uint16
	switch err := w.TsigStatus(); {
	case err == nil:
	case errors.Is(err, dns.ErrSecret), errors.Is(err, dns.ErrKeyAlg):
		tsigErr = dns.RcodeBadKey
	case errors.Is(err, dns.ErrTime):
		tsigErr = dns.RcodeBadTime
	default:
		tsigErr = dns.RcodeBadSig
	}
	if tsigErr != 0 {
		m = new(dns.Msg)
		m.SetRcode(req, dns.RcodeNotAuth)
	}
	rr := &dns.TSIG{Hdr: dns.RR_Header{Name: t.Hdr.Name, Rrtype: dns.TypeTSIG, Class: dns.ClassANY},
		Algorithm: t.Algorithm, Fudge: 300, TimeSigned: uint64(now.Unix()), OrigId: req.Id, Error: tsigErr}
	if tsigErr == dns.RcodeBadTime {
		// RFC 8945 §5.2.3: the time signed is the client's, ours goes
		// in the other data.
		rr.TimeSigned = t.TimeSigned
		var ours [8]byte
		binary.BigEndian.PutUint64(ours[:], uint64(now.Unix()))
		rr.OtherLen, rr.OtherData = 6, hex.EncodeToString(ours[2:]) // 48 bits
	}
	m.Extra = append(m.Extra, rr)
	return m
}

// tsigNotLast reports whether req has a TSIG record other than as its
// last (RFC 8945 §5.1: FORMERR).
func tsigNotLast(req *dns.Msg) bool {
	for i, rr := range req.Extra {
		if rr.Header().Rrtype == dns.TypeTSIG && i != len(req.Extra)-1 {
			return true
		}
	}
	return false
}
