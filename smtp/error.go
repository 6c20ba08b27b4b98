package smtp

import (
	"errors"
	"strconv"
	"strings"

	"github.com/posthorn/posthorn/sasl"
)

// EnhancedCode is an RFC 3463 enhanced status code: class.subject.detail.
// The zero value means "no enhanced code".
// Index 0 is the class (2, 4 or 5), 1 the subject and 2 the detail.
type EnhancedCode [3]int

// IsZero reports whether c carries no code.
func (c EnhancedCode) IsZero() bool { return c == EnhancedCode{} }

// String formats c as "class.subject.detail", or "" for the zero value.
func (c EnhancedCode) String() string {
	if c.IsZero() {
		return ""
	}
	return strconv.Itoa(c[0]) + "." + strconv.Itoa(c[1]) + "." + strconv.Itoa(c[2])
}

// AppendTo appends "class.subject.detail" to b (nothing for the zero value).
func (c EnhancedCode) AppendTo(b []byte) []byte {
	if c.IsZero() {
		return b
	}
	b = strconv.AppendInt(b, int64(c[0]), 10)
	b = append(b, '.')
	b = strconv.AppendInt(b, int64(c[1]), 10)
	b = append(b, '.')
	return strconv.AppendInt(b, int64(c[2]), 10)
}

func (c EnhancedCode) valid() bool {
	// RFC 3463 §2: class is 2, 4 or 5; subject 1*3digit; detail 1*3digit.
	return (c[0] == 2 || c[0] == 4 || c[0] == 5) &&
		c[1] >= 0 && c[1] <= 999 && c[2] >= 0 && c[2] <= 999
}

// ParseEnhancedCode parses "class.subject.detail" (RFC 3463 §2).
func ParseEnhancedCode(s string) (EnhancedCode, error) {
	var c EnhancedCode
	part, digits := 0, 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '.' {
			if digits == 0 || (part == 0 && digits != 1) || digits > 3 {
				return EnhancedCode{}, errors.New("smtp: malformed enhanced status code")
			}
			part++
			digits = 0
			if i < len(s) && part > 2 {
				return EnhancedCode{}, errors.New("smtp: malformed enhanced status code")
			}
			continue
		}
		ch := s[i]
		if ch < '0' || ch > '9' {
			return EnhancedCode{}, errors.New("smtp: malformed enhanced status code")
		}
		c[part] = c[part]*10 + int(ch-'0')
		digits++
	}
	if part != 3 || !c.valid() {
		return EnhancedCode{}, errors.New("smtp: malformed enhanced status code")
	}
	return c, nil
}

// Commonly used enhanced codes (RFC 3463 §3, RFC 5248 registry).
var (
	CodeOK              = EnhancedCode{2, 0, 0}
	CodeSenderOK        = EnhancedCode{2, 1, 0}
	CodeRecipientOK     = EnhancedCode{2, 1, 5}
	CodeDeliveredOK     = EnhancedCode{2, 6, 0}
	CodeSecurityOK      = EnhancedCode{2, 7, 0}
	CodeBadSyntax       = EnhancedCode{5, 5, 2}
	CodeBadCommand      = EnhancedCode{5, 5, 1}
	CodeBadSequence     = EnhancedCode{5, 5, 1}
	CodeBadParams       = EnhancedCode{5, 5, 4}
	CodeBadSender       = EnhancedCode{5, 1, 7}
	CodeBadRecipient    = EnhancedCode{5, 1, 3}
	CodeTooManyRcpts    = EnhancedCode{4, 5, 3}
	CodeTooBig          = EnhancedCode{5, 3, 4}
	CodeLoop            = EnhancedCode{5, 4, 6}
	CodeAuthRequired    = EnhancedCode{5, 7, 0}
	CodeAuthFailed      = EnhancedCode{5, 7, 8}
	CodeEncryptRequired = EnhancedCode{5, 7, 11}
	CodeRequireTLS      = EnhancedCode{5, 7, 10}
	CodeTempLocal       = EnhancedCode{4, 3, 0}
	CodeShutdown        = EnhancedCode{4, 3, 2}
	CodeTimeout         = EnhancedCode{4, 4, 2}
	CodeBadContent      = EnhancedCode{5, 6, 0}
	CodeNeedsUTF8       = EnhancedCode{5, 6, 7}
	CodeAuthTooWeak     = EnhancedCode{5, 7, 9}
	CodeTempAuthFailure = EnhancedCode{4, 7, 0}
)

// Error is an SMTP reply used as an error: a 4xx or 5xx reply from a peer,
// or what a server backend returns to choose the reply a client gets.
// Use errors.As to reach it through wrapping.
type Error struct {
	// Code is the three-digit reply code (RFC 5321 §4.2).
	Code int
	// Enhanced is the RFC 3463 code; zero when the reply had none.
	Enhanced EnhancedCode
	// Message is the reply text; lines of a multi-line reply are joined
	// with "\n".
	Message string
}

// Is makes errors.Is(err, sasl.ErrAuthFailed) hold for a 535 reply, the
// server's word that the credentials are wrong (RFC 4954 §6: 535 5.7.8),
// as it does for the IMAP and POP3 clients' equivalents. A temporary
// failure (454 4.7.0) does not match.
func (e *Error) Is(target error) bool {
	return target == sasl.ErrAuthFailed && e.Code == 535
}

// Error implements error.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("smtp: ")
	b.WriteString(strconv.Itoa(e.Code))
	if !e.Enhanced.IsZero() {
		b.WriteByte(' ')
		b.WriteString(e.Enhanced.String())
	}
	if e.Message != "" {
		b.WriteByte(' ')
		b.WriteString(e.Message)
	}
	return b.String()
}

// Temporary reports whether e is a transient failure (4xx, RFC 5321 §4.2.1).
func (e *Error) Temporary() bool { return e.Code >= 400 && e.Code < 500 }

// Permanent reports whether e is a permanent failure (5xx).
func (e *Error) Permanent() bool { return e.Code >= 500 && e.Code < 600 }

// Errorf-free constructors keep the common replies short at call sites.

// NewError returns an *Error with the given code, enhanced code and text.
func NewError(code int, enh EnhancedCode, msg string) *Error {
	return &Error{Code: code, Enhanced: enh, Message: msg}
}
