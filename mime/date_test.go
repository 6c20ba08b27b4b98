package mime

import (
	"errors"
	"testing"
	"time"
)

func TestParseDate(t *testing.T) {
	tests := []struct{ in, want string }{
		// RFC 5322 Appendix A
		{"Fri, 21 Nov 1997 09:55:06 -0600", "1997-11-21T09:55:06-06:00"},
		{"Tue, 1 Jul 2003 10:52:37 +0200", "2003-07-01T10:52:37+02:00"},
		{"Thu, 13 Feb 1969 23:32:54 -0330", "1969-02-13T23:32:54-03:30"},
		{"Thu,\r\n      13\r\n        Feb\r\n          1969\r\n      23:32\r\n               -0330 (Newfoundland Time)", "1969-02-13T23:32:00-03:30"},
		{"21 Nov 97 09:55:06 GMT", "1997-11-21T09:55:06Z"},
		{"Fri, 21 Nov 1997 09(comment):   55  :  06 -0600", "1997-11-21T09:55:06-06:00"},
		// obsolete zones
		{"Mon, 2 Jan 2006 15:04:05 EST", "2006-01-02T15:04:05-05:00"},
		{"Mon, 2 Jan 2006 15:04:05 PDT", "2006-01-02T15:04:05-07:00"},
		{"Mon, 2 Jan 2006 15:04:05 UT", "2006-01-02T15:04:05Z"},
		{"Mon, 2 Jan 2006 15:04:05 Z", "2006-01-02T15:04:05Z"},
		{"Mon, 2 Jan 2006 15:04:05 A", "2006-01-02T15:04:05Z"},
		{"2 Jan 2006 15:04:05 +0000 (UTC)", "2006-01-02T15:04:05Z"},
		{"2 Jan 2006 15:04:05 -0800 (PST)", "2006-01-02T15:04:05-08:00"},
		{"Mon, 02 Jan 06 15:04 +0100", "2006-01-02T15:04:00+01:00"},
		{"Mon, 02 Jan 49 15:04 +0100", "2049-01-02T15:04:00+01:00"},
		{"Mon, 02 Jan 50 15:04 +0100", "1950-01-02T15:04:00+01:00"},
		{"Mon, 02 Jan 106 15:04 +0100", "2006-01-02T15:04:00+01:00"},
		// wild
		{"Monday, January 2, 2006 3:04:05 PM", "2006-01-02T15:04:05Z"},
		{"Mon Jan  2 15:04:05 2006", "2006-01-02T15:04:05Z"},
		{"Mon, 2 Jan 2006 15:04:05 +01:00", "2006-01-02T15:04:05+01:00"},
		{"Mon, 2 Jan 2006 15:04:05.123 +0000", "2006-01-02T15:04:05.123Z"},
		{"Mon, 2 Jan 2006 15.04.05 CET", "2006-01-02T15:04:05+01:00"},
		{"2006-01-02T15:04:05+09:00", "2006-01-02T15:04:05+09:00"},
		{"2006-01-02 15:04:05 +0900", "2006-01-02T15:04:05+09:00"},
		{"Tue, 2 Jan 2006 15:04:05 +0000", "2006-01-02T15:04:05Z"}, // wrong weekday
		{"2-Jan-2006 15:04:05 +0000", "2006-01-02T15:04:05Z"},
		{"Sat, 31 Dec 2016 23:59:60 +0000", "2016-12-31T23:59:59Z"},
		{"Mon, 2 Sept 2006 15:04:05 +0000", "2006-09-02T15:04:05Z"},
		{"Thu, 30 Feb 2006 15:04:05 +0000", ""},
		{"", ""},
		{"garbage", ""},
		{"Mon, 2 Jan 2006 25:04:05 +0000", ""},
	}
	for _, tt := range tests {
		got, err := ParseDate(tt.in)
		if tt.want == "" {
			var de *DateError
			if !errors.As(err, &de) {
				t.Errorf("ParseDate(%q) = %v, %v; want *DateError", tt.in, got, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseDate(%q): %v", tt.in, err)
			continue
		}
		if s := got.Format(time.RFC3339Nano); s != tt.want {
			t.Errorf("ParseDate(%q) = %s, want %s", tt.in, s, tt.want)
		}
	}
}

func TestFormatDate(t *testing.T) {
	tm := time.Date(2003, 7, 1, 10, 52, 37, 0, time.FixedZone("", 2*3600))
	s := FormatDate(tm)
	if s != "Tue, 01 Jul 2003 10:52:37 +0200" {
		t.Errorf("FormatDate = %q", s)
	}
	back, err := ParseDate(s)
	if err != nil || !back.Equal(tm) {
		t.Errorf("round trip %v %v", back, err)
	}
}
