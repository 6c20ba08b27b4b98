package mime

import "strings"

// Line lengths of RFC 5322 §2.1.1: 78 characters should, 998 must.
const (
	foldLength = 78
	maxLength  = 998
)

// formatField returns "key: value" folded to lines of at most 78
// characters where white space allows (RFC 5322 §2.2.3), CRLF-terminated.
func formatField(key, value string) ([]byte, error) {
	if !validFieldName(key) {
		return nil, &FieldError{Key: key, Reason: "invalid field name"}
	}
	if strings.ContainsAny(value, "\r\n\x00") {
		return nil, &FieldError{Key: key, Reason: "value contains CR, LF or NUL"}
	}
	value = strings.Trim(value, " \t")
	b := make([]byte, 0, len(key)+len(value)+8+len(value)/foldLength*3)
	b = append(b, key...)
	b = append(b, ':')
	if value == "" {
		return append(b, '\r', '\n'), nil
	}
	b = append(b, ' ')
	b, ok := appendFolded(b, len(b), value)
	if !ok {
		return nil, &FieldError{Key: key, Reason: "a line would exceed 998 characters"}
	}
	return append(b, '\r', '\n'), nil
}

// appendFolded appends value to b, where the current line already holds
// col characters, inserting CRLF before white space to keep lines within
// foldLength where it can. It reports false if a line exceeds maxLength.
func appendFolded(b []byte, col int, value string) ([]byte, bool) {
	ok := true
	for i := 0; i < len(value); {
		// A segment is a run of white space (except at the start) and the
		// word that follows.
		j := i
		for j < len(value) && isWSP(value[j]) {
			j++
		}
		for j < len(value) && !isWSP(value[j]) {
			j++
		}
		seg := value[i:j]
		if i > 0 && col+len(seg) > foldLength && col > 1 {
			b = append(b, '\r', '\n')
			col = 0
		}
		b = append(b, seg...)
		col += len(seg)
		if col > maxLength {
			ok = false
		}
		i = j
	}
	return b, ok
}
