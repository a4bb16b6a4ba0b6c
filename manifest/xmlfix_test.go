package manifest

import "testing"

func TestCanonicalize(t *testing.T) {
	tests := []struct{ in, want string }{
		{`<a>></a>`, `<a>&gt;</a>`},
		{`<?xml version="1.0"?><!-- c --><a b="x>y">t>u<![CDATA[<&>]]></a>`, `<a b="x&gt;y">t&gt;u&lt;&amp;&gt;</a>`},
		{`<!DOCTYPE a><x:a xmlns:x="urn:x" x:b='q"'/>`, `<x:a xmlns:x="urn:x" x:b="q&#34;"></x:a>`},
		{"<a>\n\t<b/>\n</a>", "<a>&#xA;&#x9;<b></b>&#xA;</a>"},
	}
	for _, tc := range tests {
		got, err := canonicalize([]byte(tc.in))
		if err != nil || string(got) != tc.want {
			t.Errorf("canonicalize(%q) = %q, %v, want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"<a>", "<a></b>", "<a b=c/>", `<a b="x`, "</a>"} {
		if _, err := canonicalize([]byte(bad)); err == nil {
			t.Errorf("canonicalize(%q): no error", bad)
		}
	}
}
