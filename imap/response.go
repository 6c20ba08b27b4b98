package imap

import (
	"strings"

	"github.com/posthorn/posthorn/sasl"
)

// StatusType is the kind of a status response (RFC 9051 §7.1).
type StatusType string

// Status response types.
const (
	StatusOK      StatusType = "OK"
	StatusNO      StatusType = "NO"
	StatusBAD     StatusType = "BAD"
	StatusBYE     StatusType = "BYE"
	StatusPREAUTH StatusType = "PREAUTH"
)

// ResponseCode is a response code: the atom in brackets at the start of a
// status response's text (RFC 9051 §7.1).
type ResponseCode string

// Response codes of RFC 9051 §7.1 (and RFC 5530, which it absorbed).
const (
	CodeAlert                ResponseCode = "ALERT"
	CodeAlreadyExists        ResponseCode = "ALREADYEXISTS"
	CodeAppendUID            ResponseCode = "APPENDUID" // RFC 4315: uidvalidity uid-set
	CodeAuthenticationFailed ResponseCode = "AUTHENTICATIONFAILED"
	CodeAuthorizationFailed  ResponseCode = "AUTHORIZATIONFAILED"
	CodeBadCharset           ResponseCode = "BADCHARSET" // optional list of charsets
	CodeCannot               ResponseCode = "CANNOT"
	CodeCapability           ResponseCode = "CAPABILITY" // capability list
	CodeClientBug            ResponseCode = "CLIENTBUG"
	CodeClosed               ResponseCode = "CLOSED" // RFC 7162
	CodeContactAdmin         ResponseCode = "CONTACTADMIN"
	CodeCopyUID              ResponseCode = "COPYUID" // RFC 4315: uidvalidity src-set dst-set
	CodeCorruption           ResponseCode = "CORRUPTION"
	CodeExpired              ResponseCode = "EXPIRED"
	CodeExpungeIssued        ResponseCode = "EXPUNGEISSUED"
	CodeHasChildren          ResponseCode = "HASCHILDREN"
	CodeInUse                ResponseCode = "INUSE"
	CodeLimit                ResponseCode = "LIMIT"
	CodeNonExistent          ResponseCode = "NONEXISTENT"
	CodeNoPerm               ResponseCode = "NOPERM"
	CodeOverQuota            ResponseCode = "OVERQUOTA"
	CodeParse                ResponseCode = "PARSE"
	CodePermanentFlags       ResponseCode = "PERMANENTFLAGS" // flag list
	CodePrivacyRequired      ResponseCode = "PRIVACYREQUIRED"
	CodeReadOnly             ResponseCode = "READ-ONLY"
	CodeReadWrite            ResponseCode = "READ-WRITE"
	CodeServerBug            ResponseCode = "SERVERBUG"
	CodeTryCreate            ResponseCode = "TRYCREATE"
	CodeUIDNext              ResponseCode = "UIDNEXT"      // number
	CodeUIDNotSticky         ResponseCode = "UIDNOTSTICKY" // RFC 4315
	CodeUIDValidity          ResponseCode = "UIDVALIDITY"  // number
	CodeUnavailable          ResponseCode = "UNAVAILABLE"
	CodeUnknownCTE           ResponseCode = "UNKNOWN-CTE" // RFC 3516
	CodeUnseen               ResponseCode = "UNSEEN"      // IMAP4rev1 only: number
)

// Response codes of extensions.
const (
	CodeTooBig            ResponseCode = "TOOBIG"            // RFC 4469, RFC 7888
	CodeModified          ResponseCode = "MODIFIED"          // RFC 7162: set
	CodeHighestModSeq     ResponseCode = "HIGHESTMODSEQ"     // RFC 7162: number
	CodeNoModSeq          ResponseCode = "NOMODSEQ"          // RFC 7162
	CodeNotSaved          ResponseCode = "NOTSAVED"          // RFC 5182
	CodeCompressionActive ResponseCode = "COMPRESSIONACTIVE" // RFC 4978
	CodeMetadata          ResponseCode = "METADATA"          // RFC 5464
	CodeBadComparator     ResponseCode = "BADCOMPARATOR"     // RFC 5255
	CodeUseAttr           ResponseCode = "USEATTR"           // RFC 6154
	CodeAppendLimit       ResponseCode = "APPENDLIMIT"       // RFC 7889 (as a capability value)
)

// Error is a NO, BAD or BYE status response as a Go error. The server
// sends it as the tagged (NO, BAD) or untagged (BYE) response of a command;
// the client returns it from the command that failed. Use errors.As.
type Error struct {
	Type StatusType   // StatusNO, StatusBAD or StatusBYE
	Code ResponseCode // optional response code
	// CodeArg is the response code's argument as written on the wire
	// (e.g. "38505 3955" for APPENDUID), without the surrounding space.
	CodeArg string
	Text    string // human-readable text
}

// Error returns e.g. "imap: NO [TRYCREATE] no such mailbox".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("imap: ")
	b.WriteString(string(e.Type))
	if e.Code != "" {
		b.WriteString(" [")
		b.WriteString(string(e.Code))
		if e.CodeArg != "" {
			b.WriteByte(' ')
			b.WriteString(e.CodeArg)
		}
		b.WriteByte(']')
	}
	if e.Text != "" {
		b.WriteByte(' ')
		b.WriteString(e.Text)
	}
	return b.String()
}

// Is reports whether target is an *Error with the same Type and, when
// target has one, the same Code; so errors.Is(err, &imap.Error{Type:
// imap.StatusNO, Code: imap.CodeTryCreate}) tests for a TRYCREATE refusal.
//
// errors.Is(err, sasl.ErrAuthFailed) holds for NO [AUTHENTICATIONFAILED]
// (RFC 5530 §3), the server's word that the credentials are wrong, as it
// does for the SMTP and POP3 clients' equivalents; NO [UNAVAILABLE] (a
// temporary failure) does not match.
func (e *Error) Is(target error) bool {
	if target == sasl.ErrAuthFailed {
		return e.Type == StatusNO && e.Code == CodeAuthenticationFailed
	}
	t, ok := target.(*Error)
	if !ok {
		return false
	}
	return (t.Type == "" || t.Type == e.Type) && (t.Code == "" || t.Code == e.Code)
}

// Errorf-like constructors for the common cases.

// NoError returns a NO error with the code and text.
func NoError(code ResponseCode, text string) *Error {
	return &Error{Type: StatusNO, Code: code, Text: text}
}

// BadError returns a BAD error with the code and text.
func BadError(code ResponseCode, text string) *Error {
	return &Error{Type: StatusBAD, Code: code, Text: text}
}

// ByeError returns a BYE error with the code and text.
func ByeError(code ResponseCode, text string) *Error {
	return &Error{Type: StatusBYE, Code: code, Text: text}
}
