package imap

import (
	"strings"

	"github.com/posthorn/posthorn/mime"
)

// Param is one body parameter (attribute/value pair) of a BODYSTRUCTURE
// (RFC 9051 §9, body-fld-param). Order is kept as in the message.
type Param struct {
	Name, Value string
}

// BodyStructure describes one body part for FETCH BODY and BODYSTRUCTURE
// (RFC 9051 §7.5.2). A multipart part has Children and uses only
// MediaType, SubType and the extension fields; a single part uses the
// rest. Strings are as written in the message; an empty string is sent as
// NIL where the grammar allows NIL.
type BodyStructure struct {
	// MediaType and SubType are the content type, e.g. "TEXT" "PLAIN".
	// Servers conventionally send them in upper case for known types.
	MediaType, SubType string
	// Params are the Content-Type parameters. imapclient joins and decodes
	// RFC 2231 continuations and charsets (name*0*=utf-8''...) into one
	// plain parameter per name (see DecodeParams); Param looks one up.
	Params []Param

	// Single part only.
	ID          string // Content-ID
	Description string // Content-Description
	Encoding    string // Content-Transfer-Encoding, "7BIT" when absent
	Size        int64  // body size in octets, as transferred (encoded)
	// Lines is the body size in text lines; sent for TEXT/* and
	// MESSAGE/RFC822 (and MESSAGE/GLOBAL) parts only.
	Lines int64
	// Envelope and Body describe the enclosed message of a MESSAGE/RFC822
	// or MESSAGE/GLOBAL part.
	Envelope *Envelope
	Body     *BodyStructure

	// Multipart only: the children, in order (section numbers 1..n).
	Children []*BodyStructure

	// Extension data (BODYSTRUCTURE only, not BODY).
	MD5               string   // Content-MD5, single part only
	Disposition       string   // Content-Disposition value, e.g. "attachment"
	DispositionParams []Param  // decoded as Params are
	Language          []string // Content-Language
	Location          string   // Content-Location
}

// Param returns the value of the Content-Type parameter name (compared
// without case), or "".
func (b *BodyStructure) Param(name string) string { return paramValue(b.Params, name) }

// DispositionParam returns the value of the Content-Disposition parameter
// name (compared without case), or "".
func (b *BodyStructure) DispositionParam(name string) string {
	return paramValue(b.DispositionParams, name)
}

// Filename returns the part's file name: the Content-Disposition filename
// parameter, or else the Content-Type name parameter (RFC 2183 §2.3, and
// the older convention).
func (b *BodyStructure) Filename() string {
	if f := b.DispositionParam("filename"); f != "" {
		return f
	}
	return b.Param("name")
}

// Charset returns the charset parameter, or "".
func (b *BodyStructure) Charset() string { return b.Param("charset") }

func paramValue(ps []Param, name string) string {
	for _, p := range ps {
		if strings.EqualFold(p.Name, name) {
			return p.Value
		}
	}
	return ""
}

// DecodeParams returns ps with RFC 2231 parameters joined and decoded
// (RFC 2231 §3, §4: name*0, name*1*, charset'language'percent-encoding; the
// language is dropped), and RFC 2047 encoded words in values decoded, as
// mime.ParseMediaType does for a header. Each name appears once, at the
// place of its first piece, without the "*" suffix. ps is returned as is
// when nothing needs decoding.
func DecodeParams(ps []Param) []Param {
	need := false
	for _, p := range ps {
		if strings.IndexByte(p.Name, '*') >= 0 || strings.Contains(p.Value, "=?") {
			need = true
			break
		}
	}
	if !need {
		return ps
	}
	var sb strings.Builder
	sb.WriteString("x/x")
	for _, p := range ps {
		if p.Name == "" || strings.ContainsAny(p.Name, "=; \t\r\n\"") {
			continue
		}
		sb.WriteString("; ")
		sb.WriteString(p.Name)
		sb.WriteString(`="`)
		for i := 0; i < len(p.Value); i++ {
			if c := p.Value[i]; c == '"' || c == '\\' {
				sb.WriteByte('\\')
			}
			sb.WriteByte(p.Value[i])
		}
		sb.WriteByte('"')
	}
	_, m, _ := mime.ParseMediaType(sb.String())
	out := make([]Param, 0, len(m))
	seen := make(map[string]bool, len(m))
	for _, p := range ps {
		base := p.Name
		if i := strings.IndexByte(base, '*'); i >= 0 {
			base = base[:i]
		}
		k := strings.ToLower(base)
		v, ok := m[k]
		if !ok || seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, Param{Name: base, Value: v})
	}
	return out
}

// IsMultipart reports whether b is a multipart body.
func (b *BodyStructure) IsMultipart() bool { return len(b.Children) > 0 }

// Walk calls fn for b and every part inside it, depth first, with the
// part's section path (nil for b itself; 1-based numbers as in BODY[1.2]),
// of the same type as FetchSection.Part so a path can be fetched as is.
// The enclosed body of a MESSAGE/RFC822 part is visited right after the
// part, with the same path: its children continue the numbering below it
// (RFC 9051 §6.4.5). Walking stops when fn returns false.
func (b *BodyStructure) Walk(fn func(path []uint32, part *BodyStructure) bool) {
	b.walk(nil, fn)
}

func (b *BodyStructure) walk(path []uint32, fn func([]uint32, *BodyStructure) bool) bool {
	if !fn(path, b) {
		return false
	}
	for i, c := range b.Children {
		p := append(path[:len(path):len(path)], uint32(i+1))
		if !c.walk(p, fn) {
			return false
		}
	}
	if b.Body != nil {
		return b.Body.walk(path, fn)
	}
	return true
}
