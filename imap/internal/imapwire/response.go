package imapwire

import (
	"github.com/posthorn/posthorn/imap"
)

// textClass: TEXT-CHAR, any byte but CR and LF (8-bit allowed leniently).
var textClass = makeClass(func(c byte) bool { return c != '\r' && c != '\n' && c != 0 })

// ReadText reads the rest of the line up to (not including) CRLF: the
// human-readable text of a response (RFC 9051 §9, text). It may be empty.
func (d *Decoder) ReadText() (string, error) {
	b, err := d.readRun(textClass)
	return string(b), err
}

// respCodeArgClass: bytes of a response code argument up to "]".
var respCodeArgClass = makeClass(func(c byte) bool { return c != ']' && c != '\r' && c != '\n' && c != '"' })

// ReadRespText reads resp-text (RFC 9051 §9): an optional response code in
// brackets followed by text, up to (not including) CRLF. The code's
// argument is returned as written (e.g. "38505 3955" for APPENDUID), and
// quoted strings inside it may contain "]".
func (d *Decoder) ReadRespText() (code imap.ResponseCode, arg, text string, err error) {
	ok, err := d.Byte('[')
	if err != nil {
		return "", "", "", unexpected(err)
	}
	if ok {
		name, err := d.ReadAtomUpper()
		if err != nil {
			return "", "", "", err
		}
		code = imap.ResponseCode(name)
		if sp, err := d.Byte(' '); err != nil {
			return "", "", "", unexpected(err)
		} else if sp {
			var buf []byte
			for {
				b, err := d.readRun(respCodeArgClass)
				if err != nil {
					return "", "", "", err
				}
				buf = append(buf, b...)
				c, err := d.peek()
				if err != nil {
					return "", "", "", unexpected(err)
				}
				if c != '"' {
					break
				}
				q, err := d.ReadQuotedBytes()
				if err != nil {
					return "", "", "", err
				}
				buf = AppendString(buf, string(q), true)
			}
			arg = string(buf)
		}
		if err := d.Expect(']'); err != nil {
			return "", "", "", err
		}
		// The SP before text is required, but servers omit it with empty text.
		if _, err := d.Byte(' '); err != nil {
			return "", "", "", unexpected(err)
		}
	}
	text, err = d.ReadText()
	return code, arg, text, err
}
