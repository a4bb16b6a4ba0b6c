package testutil

import (
	"encoding/json"
	"testing"
)

func TestPlayedToEnd(t *testing.T) {
	for _, tc := range []struct {
		name, verdict string
		want          bool
	}{
		{"ended", `{"ended":true,"secondsPlayed":29.5,"duration":30.016}`, true},
		{"at the duration without the event", `{"ended":false,"secondsPlayed":30.016,"duration":30.016}`, true},
		{"a frame short", `{"ended":false,"secondsPlayed":29.95,"duration":30.016}`, true},
		{"a second short", `{"ended":false,"secondsPlayed":29.0,"duration":30.016}`, false},
		{"no duration", `{"ended":false,"secondsPlayed":12,"duration":0}`, false},
		{"nothing played", `{}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var v Verdict
			if err := json.Unmarshal([]byte(tc.verdict), &v); err != nil {
				t.Fatal(err)
			}
			if got := v.PlayedToEnd(); got != tc.want {
				t.Errorf("PlayedToEnd of %s = %v, want %v", tc.verdict, got, tc.want)
			}
		})
	}
}
