//go:build linux

package serve

import (
	"net"
	"testing"

	"github.com/streamcdn/streamcdn/internal/testutil"
)

// TestNotSentLowat: a connection accepted on a Listen listener has
// TCP_NOTSENT_LOWAT set to NotSentLowat; on a ListenLowat listener, to
// the value given, NotSentLowat for 0, or left as the kernel has it (as
// on a plain net.Listen listener) for LowatOff.
func TestNotSentLowat(t *testing.T) {
	plain, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	kernel := testutil.AcceptedNotSentLowat(t, plain)
	plain.Close()
	if kernel == NotSentLowat {
		t.Skipf("the kernel's TCP_NOTSENT_LOWAT is NotSentLowat (%d): cannot tell them apart", kernel)
	}
	for _, tc := range []struct {
		name  string
		lowat int // -2: Listen
		want  int
	}{
		{"Listen", -2, NotSentLowat},
		{"0", 0, NotSentLowat},
		{"256KiB", 256 << 10, 256 << 10},
		{"4KiB", 4 << 10, 4 << 10},
		{"off", LowatOff, kernel},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var l Listener
			var err error
			if tc.lowat == -2 {
				l, err = Listen("test", "127.0.0.1:0", nil)
			} else {
				l, err = ListenLowat("test", "127.0.0.1:0", nil, tc.lowat)
			}
			if err != nil {
				t.Fatal(err)
			}
			defer l.Ln.Close()
			if got := testutil.AcceptedNotSentLowat(t, l.Ln); got != tc.want {
				t.Errorf("accepted connection: TCP_NOTSENT_LOWAT %d, want %d", got, tc.want)
			}
		})
	}
}

// TestListenLowatNegative: a negative TCP_NOTSENT_LOWAT other than
// LowatOff is an error, and nothing is bound.
func TestListenLowatNegative(t *testing.T) {
	for _, lowat := range []int{-2, -65536} {
		if l, err := ListenLowat("test", "127.0.0.1:0", nil, lowat); err == nil {
			l.Ln.Close()
			t.Errorf("ListenLowat(%d): no error", lowat)
		}
	}
}

// TestBindLowat: Bind gives the public listener Pair.NotSentLowat
// (NotSentLowat when unset) and the admin listener NotSentLowat.
func TestBindLowat(t *testing.T) {
	for _, tc := range []struct{ lowat, want int }{{128 << 10, 128 << 10}, {0, NotSentLowat}} {
		pub, adm, err := Bind(Pair{Name: "test", Addr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0",
			Registry: NewRegistry(), NotSentLowat: tc.lowat})
		if err != nil {
			t.Fatal(err)
		}
		if got := testutil.AcceptedNotSentLowat(t, pub.Ln); got != tc.want {
			t.Errorf("Pair.NotSentLowat %d: public listener: TCP_NOTSENT_LOWAT %d, want %d", tc.lowat, got, tc.want)
		}
		if got := testutil.AcceptedNotSentLowat(t, adm.Ln); got != NotSentLowat {
			t.Errorf("admin listener: TCP_NOTSENT_LOWAT %d, want %d", got, NotSentLowat)
		}
		pub.Ln.Close()
		adm.Ln.Close()
	}
}
