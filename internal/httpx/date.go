package httpx

import (
	"strings"
	"time"
)

// ParseDate parses an HTTP-date (RFC 9110 §5.6.7) strictly: the
// IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT", or one of the obsolete
// RFC 850 "Sunday, 06-Nov-94 08:49:37 GMT" and asctime "Sun Nov  6
// 08:49:37 1994" forms, with single spaces and two-digit time fields.
// Names (day, month, GMT) are matched without regard to case, as most
// caches do; anything else (a one-digit hour, doubled spaces, a zone
// other than GMT, dashes in an IMF-fixdate) is not a date. Unlike
// http.ParseTime, which lets time.Parse accept what the grammar does not.
func ParseDate(s string) (time.Time, bool) {
	switch {
	case len(s) == 29 && s[3] == ',': // IMF-fixdate
		if !dayName(s[:3]) || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' || s[25] != ' ' || !strings.EqualFold(s[26:], "GMT") {
			return time.Time{}, false
		}
		return mkdate(s[12:16], s[8:11], s[5:7], s[17:25])
	case len(s) == 24 && s[3] == ' ': // asctime
		if !dayName(s[:3]) || s[7] != ' ' || s[10] != ' ' || s[19] != ' ' {
			return time.Time{}, false
		}
		day := s[8:10]
		if day[0] == ' ' {
			day = "0" + day[1:]
		}
		return mkdate(s[20:], s[4:7], day, s[11:19])
	default: // RFC 850
		name, rest, ok := strings.Cut(s, ", ")
		if !ok || !longDayName(name) || len(rest) != 22 || rest[2] != '-' || rest[6] != '-' || rest[9] != ' ' || rest[18] != ' ' || !strings.EqualFold(rest[19:], "GMT") {
			return time.Time{}, false
		}
		t, ok := mkdate("20"+rest[7:9], rest[3:6], rest[:2], rest[10:18])
		// A two-digit year more than 50 years ahead is in the past
		// century (RFC 9110 §5.6.7).
		if ok && t.After(time.Now().AddDate(50, 0, 0)) {
			t = t.AddDate(-100, 0, 0)
		}
		return t, ok
	}
}

var months = []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}

func dayName(s string) bool {
	for _, d := range []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"} {
		if strings.EqualFold(s, d) {
			return true
		}
	}
	return false
}

func longDayName(s string) bool {
	for _, d := range []string{"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"} {
		if strings.EqualFold(s, d) {
			return true
		}
	}
	return false
}

// mkdate builds a UTC time from a 4-digit year, a month name, a 2-digit
// day and "hh:mm:ss", and checks that each is in range.
func mkdate(year, month, day, clock string) (time.Time, bool) {
	y, ok1 := digits(year, 4)
	d, ok2 := digits(day, 2)
	if len(clock) != 8 || clock[2] != ':' || clock[5] != ':' {
		return time.Time{}, false
	}
	hh, ok3 := digits(clock[:2], 2)
	mm, ok4 := digits(clock[3:5], 2)
	ss, ok5 := digits(clock[6:], 2)
	m := 0
	for i, name := range months {
		if strings.EqualFold(month, name) {
			m = i + 1
		}
	}
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || m == 0 || d < 1 || hh > 23 || mm > 59 || ss > 60 {
		return time.Time{}, false
	}
	t := time.Date(y, time.Month(m), d, hh, mm, min(ss, 59), 0, time.UTC)
	if t.Day() != d { // 31 Feb
		return time.Time{}, false
	}
	return t, true
}

func digits(s string, n int) (int, bool) {
	if len(s) != n {
		return 0, false
	}
	v := 0
	for i := 0; i < n; i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		v = v*10 + int(s[i]-'0')
	}
	return v, true
}
