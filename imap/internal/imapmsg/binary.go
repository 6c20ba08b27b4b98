package imapmsg

import (
	"bytes"
	"encoding/base64"
	"strings"

	"github.com/posthorn/posthorn/mime"
)

// EncodeNULParts prepares the message of a binary APPEND (RFC 3516 §4.4)
// for storage: data without NUL is returned as it is, byte for byte (bare
// line ends included); otherwise each leaf part whose body holds NUL and
// has an identity transfer encoding (none, 7bit, 8bit, binary) is
// re-encoded as base64, its Content-Transfer-Encoding field replaced.
//
// IMAP can carry NUL only in the literal8 of a BINARY fetch: a BODY[]
// literal must not hold it (RFC 9051 §4.3, CHAR8), so such a part could
// never be sent whole. RFC 3516 §4.4 lets the server change the transfer
// encoding of appended data so long as no data is lost: BINARY[] and
// BINARY.SIZE of the part still give the octets appended.
func EncodeNULParts(data []byte) []byte {
	if bytes.IndexByte(data, 0) < 0 {
		return data
	}
	root, err := mime.Index(bytes.NewReader(data), int64(len(data)), mime.Limits{})
	if err != nil {
		return data
	}
	var out []byte
	last := int64(0)
	root.Walk(func(p *mime.Part) bool {
		if len(p.Children) > 0 || p.Message != nil || p.IsMultipart() {
			return true
		}
		body := data[p.BodyOffset:p.EndOffset]
		if bytes.IndexByte(body, 0) < 0 {
			return true
		}
		switch strings.ToLower(p.Encoding) {
		case "", "7bit", "8bit", "binary":
		default:
			return true // already encoded: a NUL in it is not data
		}
		if out == nil {
			out = make([]byte, 0, len(data)+len(data)/3+64)
		}
		out = append(out, data[last:p.HeaderOffset]...)
		for _, f := range p.Header.Fields() {
			if strings.EqualFold(f.Key, "Content-Transfer-Encoding") {
				continue
			}
			out = append(out, f.Raw...)
			if !bytes.HasSuffix(f.Raw, []byte("\n")) {
				out = append(out, "\r\n"...)
			}
		}
		out = append(out, "Content-Transfer-Encoding: base64\r\n\r\n"...)
		// RFC 2045 §6.8: lines of at most 76 characters.
		enc := base64.StdEncoding.AppendEncode(nil, body)
		for len(enc) > 76 {
			out = append(out, enc[:76]...)
			out = append(out, "\r\n"...)
			enc = enc[76:]
		}
		out = append(out, enc...)
		last = p.EndOffset
		return true
	})
	if out == nil {
		return data
	}
	return append(out, data[last:]...)
}
