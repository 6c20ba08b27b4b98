package mime

import (
	"crypto/rand"
	"strings"

	"golang.org/x/net/idna"
)

// NewMessageID returns a new, unique msg-id with its angle brackets
// (RFC 5322 §3.6.4): 128 random bits in base32, "@", and host in its
// ASCII form; "localhost" stands for a host that is empty or cannot go in
// an id-right (not ASCII, or with white space, angle brackets or "@").
func NewMessageID(host string) string {
	if a, err := idna.Lookup.ToASCII(host); err == nil && a != "" {
		host = a
	}
	if host == "" || !isASCII(host) || strings.ContainsAny(host, " \t\r\n<>@") {
		host = "localhost"
	}
	return "<" + strings.ToLower(rand.Text()) + "@" + host + ">"
}

// ParseMessageIDs returns the message identifiers in a Message-ID,
// In-Reply-To or References value (RFC 5322 §3.6.4), in order and without
// their angle brackets, for threading (RFC 5256 REFERENCES) and replies.
//
// It follows the obsolete syntax of RFC 5322 §4.5.4 and real mail:
// comments and white space inside the brackets are removed, phrases
// between identifiers (as old In-Reply-To fields hold) are skipped, and a
// value with no brackets that looks like one identifier ("id@host") is
// taken as it is. Empty identifiers ("<>") are dropped.
func ParseMessageIDs(v string) []string {
	var ids []string
	for {
		j := strings.IndexByte(v, '>')
		if j < 0 {
			break
		}
		i := strings.LastIndexByte(v[:j], '<')
		if i < 0 {
			v = v[j+1:]
			continue
		}
		id := v[i+1 : j]
		v = v[j+1:]
		if strings.ContainsAny(id, " \t\r\n(") {
			id = stripComments(id)
			id = strings.Join(strings.Fields(id), "")
		}
		if id != "" {
			ids = append(ids, id)
		}
	}
	if ids == nil {
		s := strings.TrimSpace(stripComments(v))
		if s != "" && strings.Contains(s, "@") && !strings.ContainsAny(s, " \t\r\n<>") {
			ids = append(ids, s)
		}
	}
	return ids
}
