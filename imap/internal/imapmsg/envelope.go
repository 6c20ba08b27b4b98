package imapmsg

import (
	"io"
	"slices"
	"strings"

	"github.com/posthorn/posthorn/imap"
	"github.com/posthorn/posthorn/mime"
)

// Envelope computes the ENVELOPE of a message from its header (the root
// part's, or an enclosed message's root for MESSAGE/RFC822 parts)
// (RFC 9051 §7.5.2).
func Envelope(p *mime.Part) *imap.Envelope {
	h := &p.Header
	env := &imap.Envelope{
		Date:      h.Get("Date"),
		Subject:   h.Get("Subject"),
		From:      parseAddressList(h.Get("From")),
		Sender:    parseAddressList(h.Get("Sender")),
		ReplyTo:   parseAddressList(h.Get("Reply-To")),
		To:        parseAddressList(h.Get("To")),
		Cc:        parseAddressList(h.Get("Cc")),
		Bcc:       parseAddressList(h.Get("Bcc")),
		InReplyTo: h.Get("In-Reply-To"),
		MessageID: h.Get("Message-ID"),
	}
	// RFC 9051 §7.5.2: the server sets Sender and Reply-To to From when
	// they are absent (or empty).
	if len(env.Sender) == 0 {
		env.Sender = env.From
	}
	if len(env.ReplyTo) == 0 {
		env.ReplyTo = env.From
	}
	return env
}

// BodyStructure computes the body structure of part p with extension data
// (RFC 9051 §7.5.2). Write it with imapwire.AppendBodyStructure, extended
// for BODYSTRUCTURE and not for BODY.
//
// r is the message the part index was computed from. Line counts are the
// number of line breaks in the body, as Dovecot and other servers report
// them; the last line before a boundary delimiter has none (its CRLF
// belongs to the delimiter, RFC 2046 §5.1.1). With a nil r the count of
// the mime index is used, which includes an unterminated last line.
func BodyStructure(r io.ReaderAt, p *mime.Part) *imap.BodyStructure {
	bs := &imap.BodyStructure{
		MediaType: upper(p.MediaType),
		SubType:   upper(p.SubType),
		Params:    params(p.Params),
	}
	if bs.MediaType == "" {
		bs.MediaType, bs.SubType = "TEXT", "PLAIN"
	}
	bs.Disposition = upper(p.Disposition)
	bs.DispositionParams = params(p.DispositionParams)
	bs.Language = p.Language
	bs.Location = p.Location
	if p.IsMultipart() && len(p.Children) > 0 {
		bs.Children = make([]*imap.BodyStructure, len(p.Children))
		for i, c := range p.Children {
			bs.Children[i] = BodyStructure(r, c)
		}
		return bs
	}
	if bs.MediaType == "TEXT" && bs.SubType == "PLAIN" && p.Params["charset"] == "" {
		// RFC 2045 §5.2, RFC 2046 §4.1.2: text/plain without a charset
		// is US-ASCII; say so, as clients expect.
		bs.Params = append(bs.Params, imap.Param{Name: "CHARSET", Value: "US-ASCII"})
		slices.SortFunc(bs.Params, func(a, b imap.Param) int { return strings.Compare(a.Name, b.Name) })
	}
	bs.ID = p.ID
	bs.Description = p.Description
	bs.Encoding = upper(p.Encoding)
	if bs.Encoding == "" {
		bs.Encoding = "7BIT"
	}
	bs.Size = p.Size()
	bs.MD5 = p.MD5
	switch {
	case p.IsMessage() && p.Message != nil:
		bs.Envelope = Envelope(p.Message)
		bs.Body = BodyStructure(r, p.Message)
		bs.Lines = bodyLines(r, p)
	case bs.MediaType == "TEXT":
		bs.Lines = bodyLines(r, p)
	}
	return bs
}

// bodyLines counts the line breaks of p's body (see BodyStructure).
func bodyLines(r io.ReaderAt, p *mime.Part) int64 {
	n := p.BodyLines
	if r == nil || p.EndOffset <= p.BodyOffset || n == 0 {
		return n
	}
	var last [1]byte
	if _, err := r.ReadAt(last[:], p.EndOffset-1); err == nil && last[0] != '\n' {
		n--
	}
	return n
}

// params returns the map as a list sorted by name, names upper-cased.
// Values with 8-bit or control characters are sent in RFC 2231 extended
// form (NAME* "utf-8”...") as the message would have carried them, which
// keeps the structure 7-bit and is what RFC 2231-aware clients decode.
func params(m map[string]string) []imap.Param {
	if len(m) == 0 {
		return nil
	}
	ps := make([]imap.Param, 0, len(m))
	for k, v := range m {
		name := upper(k)
		if needs2231(v) {
			name, v = name+"*", encode2231(v)
		}
		ps = append(ps, imap.Param{Name: name, Value: v})
	}
	slices.SortFunc(ps, func(a, b imap.Param) int { return strings.Compare(a.Name, b.Name) })
	return ps
}

func needs2231(v string) bool {
	for i := 0; i < len(v); i++ {
		if v[i] >= 0x80 || v[i] < 0x20 || v[i] == 0x7f {
			return true
		}
	}
	return false
}

// encode2231 writes v as an RFC 2231 §4 extended value in UTF-8:
// charset "'" language "'" with non-attribute-chars percent-encoded.
func encode2231(v string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.WriteString("utf-8''")
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c > 0x20 && c < 0x7f && !strings.ContainsRune("*'%()<>@,;:\\\"/[]?=", rune(c)) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// upperNames holds the upper-case form of common tokens, so that computing
// a body structure does not allocate for them.
var upperNames = func() map[string]string {
	m := map[string]string{}
	for _, s := range strings.Fields(`text plain html enriched calendar csv xml multipart mixed alternative
		related digest signed encrypted report parallel message rfc822 global delivery-status
		disposition-notification partial external-body application octet-stream pdf json zip gzip
		pgp-signature pgp-encrypted pkcs7-signature pkcs7-mime x-pkcs7-signature ms-tnef msword
		vnd.openxmlformats-officedocument.wordprocessingml.document image jpeg png gif webp svg+xml
		audio video mpeg mp4 base64 quoted-printable 7bit 8bit binary charset boundary name filename
		format delsp protocol micalg type size creation-date modification-date attachment inline`) {
		m[s] = strings.ToUpper(s)
	}
	return m
}()

// upper returns s in upper case, without allocating for common tokens.
func upper(s string) string {
	if u, ok := upperNames[s]; ok {
		return u
	}
	return strings.ToUpper(s)
}
