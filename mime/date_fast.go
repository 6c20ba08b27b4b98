package mime

import "time"

// parseDateFast parses the canonical RFC 5322 §3.3 form that nearly every
// mailer writes, "Mon, 2 Jan 2006 15:04:05 -0700" (the day of the week
// optional, the day in one or two digits), without time.Parse or any
// allocation beyond the zone. It returns ok=false for anything else, and
// for values the general parser treats specially (leap seconds, hour 24,
// days past the end of the month), so ParseDate falls back; for what it
// accepts it returns exactly what the general parser returns
// (TestDateFastPathAgrees and FuzzDateFastPath check this).
func parseDateFast(s string) (time.Time, bool) {
	// day-of-week ","
	if len(s) >= 5 && s[3] == ',' && s[4] == ' ' {
		switch s[:3] {
		case "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun":
			s = s[5:]
		default:
			return time.Time{}, false
		}
	}
	// day: 1*2DIGIT
	day, n := fastDigits(s, 2)
	if n == 0 || n >= len(s) || s[n] != ' ' {
		return time.Time{}, false
	}
	s = s[n+1:]
	// month " " year(4DIGIT) " " hh:mm:ss " " zone: exactly 23 bytes.
	if len(s) != 23 || s[3] != ' ' || s[8] != ' ' || s[11] != ':' || s[14] != ':' || s[17] != ' ' {
		return time.Time{}, false
	}
	month := 0
	for i, m := range [...]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"} {
		if s[:3] == m {
			month = i + 1
			break
		}
	}
	year, n1 := fastDigits(s[4:8], 4)
	hour, n2 := fastDigits(s[9:11], 2)
	minute, n3 := fastDigits(s[12:14], 2)
	sec, n4 := fastDigits(s[15:17], 2)
	zh, n5 := fastDigits(s[19:21], 2)
	zm, n6 := fastDigits(s[21:23], 2)
	if month == 0 || n1 != 4 || n2 != 2 || n3 != 2 || n4 != 2 || n5 != 2 || n6 != 2 {
		return time.Time{}, false
	}
	if day < 1 || day > 31 || hour > 23 || minute > 59 || sec > 59 || zm > 59 {
		return time.Time{}, false
	}
	zone := zh*3600 + zm*60
	switch s[18] {
	case '+':
	case '-':
		zone = -zone
	default:
		return time.Time{}, false
	}
	loc := time.UTC
	if zone != 0 {
		loc = time.FixedZone("", zone)
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, 0, loc)
	if t.Day() != day {
		return time.Time{}, false
	}
	return t, true
}

// fastDigits reads up to max decimal digits at the start of s and returns
// their value and how many there were.
func fastDigits(s string, max int) (v, n int) {
	for n < max && n < len(s) && s[n] >= '0' && s[n] <= '9' {
		v = v*10 + int(s[n]-'0')
		n++
	}
	return v, n
}
