package smtp

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Reply is a reply as read from the wire (RFC 5321 §4.2).
type Reply struct {
	// Code is the three-digit reply code.
	Code int
	// Enhanced is the RFC 3463 code found at the start of the first line,
	// or zero. When present it is removed from the text of every line that
	// repeats it (RFC 2034 §3).
	Enhanced EnhancedCode
	// Lines holds the text of each line without code, separator and
	// enhanced code.
	Lines []string

	one [1]string // storage for the common one-line reply
}

// Text returns the lines joined with "\n".
func (r *Reply) Text() string { return strings.Join(r.Lines, "\n") }

// Positive reports whether the reply is 2xx or 3xx.
func (r *Reply) Positive() bool { return r.Code >= 200 && r.Code < 400 }

// Err returns nil for a 2xx or 3xx reply and an *Error otherwise.
func (r *Reply) Err() error {
	if r.Positive() {
		return nil
	}
	return &Error{Code: r.Code, Enhanced: r.Enhanced, Message: r.Text()}
}

// ReplyLimits bounds [ReadReply]. Zero fields take the defaults.
type ReplyLimits struct {
	// MaxLines is the most lines one reply may have; default 128 (an EHLO
	// reply with every extension has about 20).
	MaxLines int
	// MaxLineLength is the longest reply line in octets including CRLF;
	// default 2048, four times RFC 5321 §4.5.3.1.5's 512 for leniency.
	MaxLineLength int
}

func (l ReplyLimits) withDefaults() ReplyLimits {
	if l.MaxLines <= 0 {
		l.MaxLines = 128
	}
	if l.MaxLineLength <= 0 {
		l.MaxLineLength = 2048
	}
	return l
}

// ErrReplyTooLong is returned by ReadReply when a reply exceeds its limits.
var ErrReplyTooLong = errors.New("smtp: reply exceeds limits")

// ProtocolError reports a reply that does not follow RFC 5321 §4.2.
type ProtocolError struct {
	// Line is the offending line, truncated to 80 octets.
	Line string
	// Reason says what is wrong.
	Reason string
}

// Error implements error.
func (e *ProtocolError) Error() string {
	return fmt.Sprintf("smtp: malformed reply %q: %s", e.Line, e.Reason)
}

func protoErr(line []byte, reason string) error {
	if len(line) > 80 {
		line = line[:80]
	}
	return &ProtocolError{Line: string(line), Reason: reason}
}

// ReadReply reads one possibly multi-line reply from br.
// It returns io.ErrUnexpectedEOF when the connection ends inside a reply,
// ErrReplyTooLong beyond lim, and *ProtocolError for malformed lines.
// A positive or negative reply is returned as a *Reply with a nil error;
// call [Reply.Err] to turn a 4xx/5xx into an *Error.
func ReadReply(br *bufio.Reader, lim ReplyLimits) (*Reply, error) {
	r := &Reply{}
	if err := readReply(br, lim, r, nil); err != nil {
		return nil, err
	}
	return r, nil
}

// ReplyReader reads replies as ReadReply does, into one Reply it reuses,
// and reuses the text of a line equal to one of the last few it read: a
// client that reads the same replies again and again ("250 2.1.0 Ok")
// allocates nothing for them. The zero value is ready to use.
type ReplyReader struct {
	// Limits bound each reply.
	Limits ReplyLimits

	r      Reply
	recent [8]string
	next   int
}

// Read reads one reply from br. The Reply is valid until the next Read.
func (rr *ReplyReader) Read(br *bufio.Reader) (*Reply, error) {
	rr.r = Reply{}
	if err := readReply(br, rr.Limits, &rr.r, rr.intern); err != nil {
		return nil, err
	}
	return &rr.r, nil
}

// intern returns a string equal to b, one of the recent ones if it can.
func (rr *ReplyReader) intern(b []byte) string {
	for _, s := range rr.recent {
		if s == string(b) {
			return s
		}
	}
	s := string(b)
	rr.recent[rr.next] = s
	rr.next = (rr.next + 1) % len(rr.recent)
	return s
}

// readReply reads one reply into r, making line texts with intern (nil:
// a plain conversion).
func readReply(br *bufio.Reader, lim ReplyLimits, r *Reply, intern func([]byte) string) error {
	lim = lim.withDefaults()
	for n := 0; ; n++ {
		if n >= lim.MaxLines {
			return ErrReplyTooLong
		}
		line, err := readBoundedLine(br, lim.MaxLineLength)
		if err != nil {
			if err == io.EOF && n > 0 {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		if len(line) < 3 {
			return protoErr(line, "too short")
		}
		code := 0
		for i := 0; i < 3; i++ {
			c := line[i]
			if c < '0' || c > '9' {
				return protoErr(line, "no reply code")
			}
			code = code*10 + int(c-'0')
		}
		// RFC 5321 §4.2: first digit 2-5, second 0-5.
		if line[0] < '2' || line[0] > '5' || line[1] > '5' {
			return protoErr(line, "reply code out of range")
		}
		if n == 0 {
			r.Code = code
		} else if code != r.Code {
			return protoErr(line, "reply code changed inside a multi-line reply")
		}
		last := true
		text := line[3:]
		if len(text) > 0 {
			switch text[0] {
			case '-':
				last = false
			case ' ':
			default:
				return protoErr(line, "bad separator")
			}
			text = text[1:]
		}
		var s string
		if intern != nil {
			s = intern(text)
		} else {
			s = string(text)
		}
		if n == 0 {
			if enh, rest, ok := cutEnhanced(s, line[0]); ok {
				r.Enhanced = enh
				s = rest
			}
		} else if !r.Enhanced.IsZero() {
			if enh, rest, ok := cutEnhanced(s, line[0]); ok && enh == r.Enhanced {
				s = rest
			}
		}
		if n == 0 {
			r.one[0] = s
			r.Lines = r.one[:1:1]
		} else {
			r.Lines = append(r.Lines, s)
		}
		if last {
			return nil
		}
	}
}

// cutEnhanced removes a leading enhanced code whose class matches the
// reply's first digit (RFC 2034 §3).
func cutEnhanced(s string, class byte) (EnhancedCode, string, bool) {
	if len(s) < 5 || s[0] != class || s[1] != '.' {
		return EnhancedCode{}, s, false
	}
	end := strings.IndexByte(s, ' ')
	code := s
	rest := ""
	if end >= 0 {
		code, rest = s[:end], s[end+1:]
	}
	enh, err := ParseEnhancedCode(code)
	if err != nil {
		return EnhancedCode{}, s, false
	}
	return enh, rest, true
}

// readBoundedLine reads a line ending in LF (CR before it removed) of at
// most max octets including the line ending. Longer lines are an error.
func readBoundedLine(br *bufio.Reader, max int) ([]byte, error) {
	var acc []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(acc)+len(chunk) > max {
			return nil, ErrReplyTooLong
		}
		switch err {
		case nil:
			if acc != nil {
				acc = append(acc, chunk...)
				chunk = acc
			}
			chunk = chunk[:len(chunk)-1]
			if len(chunk) > 0 && chunk[len(chunk)-1] == '\r' {
				chunk = chunk[:len(chunk)-1]
			}
			return chunk, nil
		case bufio.ErrBufferFull:
			acc = append(acc, chunk...)
		default:
			if len(acc)+len(chunk) > 0 {
				return nil, io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
}

// AppendReply appends the wire form of a reply to buf: one line per element
// of lines (at least one line is written), each "code-" except the last
// "code ", with the enhanced code (when non-zero) after the separator.
// CR, LF and other control characters in the text become spaces, so text
// from anywhere cannot split or forge a reply.
func AppendReply(buf []byte, code int, enh EnhancedCode, lines ...string) []byte {
	if len(lines) == 0 {
		lines = []string{""}
	}
	for i, l := range lines {
		buf = strconv.AppendInt(buf, int64(code), 10)
		if i == len(lines)-1 {
			buf = append(buf, ' ')
		} else {
			buf = append(buf, '-')
		}
		if !enh.IsZero() {
			buf = enh.AppendTo(buf)
			if l != "" {
				buf = append(buf, ' ')
			}
		}
		for j := 0; j < len(l); j++ {
			c := l[j]
			if c < ' ' || c == 0x7f {
				c = ' '
			}
			buf = append(buf, c)
		}
		buf = append(buf, '\r', '\n')
	}
	return buf
}

// WriteReply writes a reply built by [AppendReply] to w.
func WriteReply(w io.Writer, code int, enh EnhancedCode, lines ...string) error {
	_, err := w.Write(AppendReply(nil, code, enh, lines...))
	return err
}
