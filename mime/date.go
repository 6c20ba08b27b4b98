package mime

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// DateLayout is the RFC 5322 §3.3 date-time format FormatDate writes.
const DateLayout = "Mon, 02 Jan 2006 15:04:05 -0700"

// FormatDate formats t for a Date header field (RFC 5322 §3.3), in t's
// own zone, with the day of the week, seconds and a numeric zone.
func FormatDate(t time.Time) string {
	return t.Format(DateLayout)
}

// DateError reports a date that could not be parsed.
type DateError struct {
	Value  string // at most 200 bytes
	Reason string
}

func (e *DateError) Error() string {
	return fmt.Sprintf("mime: invalid date %q: %s", e.Value, e.Reason)
}

// ParseDate parses a Date, Resent-Date or Received date (RFC 5322 §3.3). On
// top of the current syntax it accepts the obsolete one of §4.3 (two- and
// three-digit years, alphabetic zones UT, GMT, EST/EDT, CST/CDT, MST/MDT,
// PST/PDT and military letters, which §4.3 says to read as -0000; comments
// and white space anywhere) and forms seen in the wild: a missing day of
// the week, seconds or zone (read as UTC), full day and month names, the
// month before the day, "+hh:mm" zones, fractional seconds, dots in the
// time, common named zones (CET, CEST, BST, JST, …), and ISO 8601 /
// RFC 3339 dates. A wrong day of the week is ignored.
func ParseDate(v string) (time.Time, error) {
	if len(v) > 500 {
		return time.Time{}, &DateError{Value: clip(v), Reason: "too long"}
	}
	if t, ok := parseDateFast(strings.TrimSpace(v)); ok {
		return t, nil
	}
	return parseDateGeneral(v)
}

func parseDateGeneral(v string) (time.Time, error) {
	if len(v) > 500 {
		return time.Time{}, &DateError{Value: clip(v), Reason: "too long"}
	}
	s := stripComments(v)
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	fail := func(reason string) (time.Time, error) {
		return time.Time{}, &DateError{Value: clip(v), Reason: reason}
	}
	fields := strings.FieldsFunc(s, func(r rune) bool {
		return r == ' ' || r == '\t' || r == '\r' || r == '\n' || r == ','
	})
	// Join a time split by white space around its colons (obsolete FWS).
	for i := 0; i+1 < len(fields); i++ {
		if strings.HasSuffix(fields[i], ":") || strings.HasPrefix(fields[i+1], ":") {
			if isTimeish(fields[i]) && isTimeish(fields[i+1]) {
				fields[i] += fields[i+1]
				fields = append(fields[:i+1], fields[i+2:]...)
				i--
			}
		}
	}
	day, month, year := -1, -1, -1
	hour, min, sec, nsec := -1, 0, 0, 0
	zone, zoneSet := 0, false
	var nums []string
	ampm, pm := false, false
	for _, f := range fields {
		lf := strings.ToLower(f)
		switch {
		case isWeekday(lf):
		case lf == "am" || lf == "pm":
			pm = lf == "pm"
			ampm = true
		case monthOf(lf) > 0 && month < 0:
			month = monthOf(lf)
		case strings.Count(f, ":") >= 1 && hour < 0 && isTimeish(f):
			var ok bool
			if hour, min, sec, nsec, ok = parseClock(f); !ok {
				return fail("bad time")
			}
		case (f[0] == '+' || f[0] == '-') && len(f) > 1 && !zoneSet:
			z, ok := numericZone(f[1:])
			if !ok {
				return fail("bad zone")
			}
			if f[0] == '-' {
				z = -z
			}
			zone, zoneSet = z, true
		case isDigits(f):
			nums = append(nums, f)
		case len(f) == 10 && f[4] == '-' && f[7] == '-' && isDigits(f[:4]):
			// 2006-01-02
			year, _ = strconv.Atoi(f[:4])
			month, _ = strconv.Atoi(f[5:7])
			day, _ = strconv.Atoi(f[8:])
		default:
			if z, ok := namedZone(lf); ok {
				if !zoneSet {
					zone, zoneSet = z, true
				}
				continue
			}
			// A month glued to its day or year ("21-Nov-97").
			if parts := strings.Split(f, "-"); len(parts) == 3 && monthOf(strings.ToLower(parts[1])) > 0 {
				month = monthOf(strings.ToLower(parts[1]))
				nums = append(nums, parts[0], parts[2])
				continue
			}
			if hour < 0 && (strings.Count(f, ".") == 2) && isTimeish(strings.ReplaceAll(f, ".", ":")) {
				var ok bool
				if hour, min, sec, nsec, ok = parseClock(strings.ReplaceAll(f, ".", ":")); ok {
					continue
				}
			}
			return fail(fmt.Sprintf("unexpected %q", clip(f)))
		}
	}
	for _, n := range nums {
		x, _ := strconv.Atoi(n)
		switch {
		case day < 0 && len(n) <= 2 && x >= 1 && x <= 31:
			day = x
		case year < 0:
			year = x
			// RFC 5322 §4.3: 00-49 are 2000-2049, 50-999 add 1900.
			switch {
			case len(n) <= 2 && x < 50:
				year += 2000
			case len(n) <= 3:
				year += 1900
			}
		default:
			return fail("too many numbers")
		}
	}
	switch {
	case day < 0:
		return fail("no day")
	case month < 0:
		return fail("no month")
	case year < 0:
		return fail("no year")
	case hour < 0:
		hour = 0 // a date without a time: midnight
	}
	if month < 1 || month > 12 || day < 1 || day > 31 || hour > 24 || min > 59 || sec > 60 || year > 9999 {
		return fail("out of range")
	}
	if ampm && hour <= 12 {
		if pm && hour < 12 {
			hour += 12
		} else if !pm && hour == 12 {
			hour = 0
		}
	}
	if sec == 60 {
		sec = 59 // leap second
	}
	loc := time.UTC
	if zone != 0 {
		loc = time.FixedZone("", zone)
	}
	t := time.Date(year, time.Month(month), day, hour, min, sec, nsec, loc)
	if t.Day() != day && hour != 24 {
		return fail("no such day")
	}
	return t, nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isTimeish(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && c != ':' && c != '.' {
			return false
		}
	}
	return s != ""
}

// parseClock parses h:mm, hh:mm:ss and hh:mm:ss.fraction.
func parseClock(s string) (h, m, sec, nsec int, ok bool) {
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return 0, 0, 0, 0, false
	}
	var err error
	if h, err = strconv.Atoi(parts[0]); err != nil || len(parts[0]) > 2 {
		return 0, 0, 0, 0, false
	}
	if m, err = strconv.Atoi(parts[1]); err != nil || len(parts[1]) > 2 {
		return 0, 0, 0, 0, false
	}
	if len(parts) == 3 {
		whole, frac, _ := strings.Cut(parts[2], ".")
		if sec, err = strconv.Atoi(whole); err != nil || len(whole) > 2 {
			return 0, 0, 0, 0, false
		}
		if frac != "" {
			if !isDigits(frac) {
				return 0, 0, 0, 0, false
			}
			frac = (frac + "000000000")[:9]
			nsec, _ = strconv.Atoi(frac)
		}
	}
	return h, m, sec, nsec, true
}

// numericZone parses hhmm, hh:mm or hh (without the sign) into seconds.
func numericZone(s string) (int, bool) {
	s = strings.Replace(s, ":", "", 1)
	if !isDigits(s) {
		return 0, false
	}
	switch len(s) {
	case 4:
		h, _ := strconv.Atoi(s[:2])
		m, _ := strconv.Atoi(s[2:])
		if m > 59 {
			return 0, false
		}
		return h*3600 + m*60, true
	case 1, 2:
		h, _ := strconv.Atoi(s)
		if h > 23 {
			return 0, false
		}
		return h * 3600, true
	}
	return 0, false
}

var weekdays = [...]string{"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}

// isWeekday reports whether s (lower case) is a day name or an
// abbreviation of at least three letters ("thu", "thurs").
func isWeekday(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if len(s) < 3 {
		return false
	}
	for _, d := range weekdays {
		if strings.HasPrefix(d, s) {
			return true
		}
	}
	return false
}

var months = [...]string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}
var monthNames = [...]string{"january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"}

func monthOf(s string) int {
	s = strings.TrimSuffix(s, ".")
	if len(s) < 3 {
		return 0
	}
	for i, m := range months {
		if s == m || strings.HasPrefix(monthNames[i], s) || s == "sept" {
			if s == "sept" {
				return 9
			}
			return i + 1
		}
	}
	return 0
}

// namedZone returns the offset of an alphabetic zone (RFC 5322 §4.3, and a
// few common names). Military letters and unknown 1-letter zones are
// -0000, as §4.3 says.
func namedZone(s string) (int, bool) {
	const h = 3600
	switch s {
	case "ut", "utc", "gmt", "z", "wet", "uct":
		return 0, true
	case "edt":
		return -4 * h, true
	case "est", "cdt":
		return -5 * h, true
	case "cst", "mdt":
		return -6 * h, true
	case "mst", "pdt":
		return -7 * h, true
	case "pst", "akdt":
		return -8 * h, true
	case "akst":
		return -9 * h, true
	case "hst":
		return -10 * h, true
	case "bst", "cet", "met", "west", "wat":
		return 1 * h, true
	case "cest", "mest", "eet", "sast", "cat":
		return 2 * h, true
	case "eest", "msk", "eat":
		return 3 * h, true
	case "ist":
		return 5*h + 30*60, true
	case "ict", "wib":
		return 7 * h, true
	case "hkt", "sgt", "awst", "pht":
		return 8 * h, true
	case "jst", "kst":
		return 9 * h, true
	case "acst":
		return 9*h + 30*60, true
	case "aest":
		return 10 * h, true
	case "aedt":
		return 11 * h, true
	case "nzst":
		return 12 * h, true
	case "nzdt":
		return 13 * h, true
	}
	if len(s) == 1 && s[0] >= 'a' && s[0] <= 'z' && s[0] != 'j' {
		return 0, true // military zone: RFC 5322 §4.3 says treat as -0000
	}
	return 0, false
}
