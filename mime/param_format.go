package mime

import (
	"sort"
	"strings"
)

// FormatMediaType formats a Content-Type or Content-Disposition value from
// a type ("text/plain", "attachment") and parameters, with names in sorted
// order. A value is written as a token when it can be, as a quoted string
// when it is printable ASCII, and with RFC 2231 encoding (UTF-8,
// percent-encoded, split into continuations of at most 78 characters)
// otherwise. Parameters are separated by "; " so that Header.Add can fold
// between them. It returns "" if t or a parameter name is not a token
// (type/subtype for a media type).
func FormatMediaType(t string, params map[string]string) string {
	typ, sub, hasSlash := strings.Cut(t, "/")
	if !isToken(typ) || hasSlash && !isToken(sub) {
		return ""
	}
	var b strings.Builder
	b.WriteString(strings.ToLower(t))
	names := make([]string, 0, len(params))
	for k := range params {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if !isToken(k) || strings.ContainsAny(k, "*'%") {
			return ""
		}
		appendParam(&b, strings.ToLower(k), params[k])
	}
	return b.String()
}

// appendParam writes "; name=value" in the simplest form that holds value.
func appendParam(b *strings.Builder, name, value string) {
	if isToken(value) {
		b.WriteString("; " + name + "=" + value)
		return
	}
	printable := true
	for i := 0; i < len(value); i++ {
		if c := value[i]; c < 0x20 || c >= 0x7f {
			printable = false
			break
		}
	}
	if strings.Contains(value, "=?") {
		printable = false // would be read back as encoded words
	}
	if printable && len(name)+len(value) < 70 {
		b.WriteString("; " + name + "=")
		quote(b, value)
		return
	}
	// RFC 2231 §4: name*=utf-8''percent-encoded, with §3 continuations.
	const hex = "0123456789ABCDEF"
	var enc []string
	cur := "utf-8''"
	limit := 78 - len(name) - len("*10*=;") - 1
	for i := 0; i < len(value); {
		// Keep UTF-8 sequences within one section.
		n := 1
		for i+n < len(value) && value[i+n]&0xC0 == 0x80 {
			n++
		}
		var piece strings.Builder
		for _, c := range []byte(value[i : i+n]) {
			if c > 0x20 && c < 0x7f && isTokenChar(c) && c != '*' && c != '\'' && c != '%' {
				piece.WriteByte(c)
			} else {
				piece.WriteByte('%')
				piece.WriteByte(hex[c>>4])
				piece.WriteByte(hex[c&15])
			}
		}
		if len(cur)+piece.Len() > limit && cur != "" && cur != "utf-8''" {
			enc = append(enc, cur)
			cur = ""
		}
		cur += piece.String()
		i += n
	}
	enc = append(enc, cur)
	if len(enc) == 1 {
		b.WriteString("; " + name + "*=" + enc[0])
		return
	}
	for i, e := range enc {
		b.WriteString("; " + name + "*" + itoa(i) + "*=" + e)
	}
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

// quote writes s as an RFC 5322 quoted-string.
func quote(b *strings.Builder, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
}
