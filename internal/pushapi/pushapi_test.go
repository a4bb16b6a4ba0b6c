package pushapi

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
)

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestParseContentDigest(t *testing.T) {
	hello := sha([]byte("hello"))
	tests := []struct {
		in, want string
		ok       bool
	}{
		{ContentDigest(hello), hello, true},
		{"sha-512=:AAAA:, SHA-256=" + strings.TrimPrefix(ContentDigest(hello), "sha-256="), hello, true},
		{"sha-256=LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=", "", false},
		{"sha-256=:AAAA:", "", false},
		{"sha-512=:AAAA:", "", false},
		{"", "", false},
	}
	for _, tc := range tests {
		got, err := ParseContentDigest(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseContentDigest(%q) = %q, %v", tc.in, got, err)
		}
	}
}

func FuzzParseContentDigest(f *testing.F) {
	for _, s := range []string{ContentDigest(sha(nil)), "sha-256=::", "sha-256=:=:", ",,sha-256", "a=b, sha-256=:x:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if h, err := ParseContentDigest(s); err == nil && len(h) != 64 {
			t.Fatalf("%q gave %q", s, h)
		}
	})
}
