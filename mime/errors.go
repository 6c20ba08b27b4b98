package mime

import (
	"errors"
	"fmt"
)

// DefectKind names something broken that a reader tolerated.
type DefectKind int

// Defects recorded on a Part. Each is tolerated: reading goes on.
const (
	// DefectMissingFinalBoundary: a multipart ended (at the end of its
	// parent or of the message) without its close delimiter "--boundary--".
	DefectMissingFinalBoundary DefectKind = iota + 1
	// DefectMissingBoundary: a multipart/* part without a usable boundary
	// parameter; its body is read as one opaque leaf.
	DefectMissingBoundary
	// DefectNoParts: a multipart whose body holds no delimiter line at all.
	DefectNoParts
	// DefectMissingHeaderSeparator: a line that is neither a header field
	// nor a blank line ended the header; it starts the body (this is also
	// how a part without any header is read).
	DefectMissingHeaderSeparator
	// DefectMalformedContentType: the Content-Type field could not be
	// parsed; the part is read as text/plain (RFC 2045 §5.2).
	DefectMalformedContentType
	// DefectMalformedDisposition: the Content-Disposition field could not be parsed.
	DefectMalformedDisposition
	// DefectUnknownEncoding: an unknown Content-Transfer-Encoding; the body
	// is passed through undecoded (RFC 2045 §6.4).
	DefectUnknownEncoding
	// DefectEncodedContainer: a multipart or message/rfc822 part with a
	// transfer encoding other than 7bit, 8bit or binary (forbidden by
	// RFC 2045 §6.4); base64 and quoted-printable ones are read as leaves.
	DefectEncodedContainer
	// DefectBase64Characters: characters outside the base64 alphabet
	// (other than line breaks) were skipped.
	DefectBase64Characters
	// DefectBase64Padding: missing, misplaced or excess "=" padding.
	DefectBase64Padding
	// DefectBase64Length: a final group of a single base64 character was dropped.
	DefectBase64Length
	// DefectQPEscape: a "=" not followed by two hex digits or a line
	// break; it was passed through literally.
	DefectQPEscape
	// DefectUnknownCharset: the charset parameter names no known charset;
	// the text is passed through unconverted.
	DefectUnknownCharset
	// DefectLimit: a soft limit was hit; Err is the *LimitError.
	DefectLimit
	// DefectHeader: the header could not be parsed; Err says why.
	DefectHeader
)

var defectNames = [...]string{
	DefectMissingFinalBoundary:   "missing final boundary",
	DefectMissingBoundary:        "multipart without boundary",
	DefectNoParts:                "multipart without parts",
	DefectMissingHeaderSeparator: "missing header/body separator",
	DefectMalformedContentType:   "malformed Content-Type",
	DefectMalformedDisposition:   "malformed Content-Disposition",
	DefectUnknownEncoding:        "unknown Content-Transfer-Encoding",
	DefectEncodedContainer:       "encoded multipart or message part",
	DefectBase64Characters:       "invalid base64 characters",
	DefectBase64Padding:          "invalid base64 padding",
	DefectBase64Length:           "invalid base64 length",
	DefectQPEscape:               "invalid quoted-printable escape",
	DefectUnknownCharset:         "unknown charset",
	DefectLimit:                  "limit exceeded",
	DefectHeader:                 "unparsable header",
}

// String returns a short description of the defect kind.
func (k DefectKind) String() string {
	if k > 0 && int(k) < len(defectNames) {
		return defectNames[k]
	}
	return fmt.Sprintf("DefectKind(%d)", int(k))
}

// A Defect is a soft error: something wrong with a part that the reader
// worked around. It is an error so that it can be logged or wrapped; use
// errors.As to get at it, and at Err (e.g. a *LimitError) through it.
type Defect struct {
	Kind DefectKind
	// Offset is the byte offset in the message where the defect was seen,
	// or -1 when unknown (e.g. a decoder reading from a plain io.Reader).
	Offset int64
	// Err is the underlying error, if any.
	Err error
}

// Error describes the defect and where it was seen.
func (d *Defect) Error() string {
	s := "mime: " + d.Kind.String()
	if d.Offset >= 0 {
		s += fmt.Sprintf(" at offset %d", d.Offset)
	}
	if d.Err != nil {
		s += ": " + d.Err.Error()
	}
	return s
}

// Unwrap returns Err.
func (d *Defect) Unwrap() error { return d.Err }

// ErrNotMultipart is returned by functions that need a multipart entity
// when given something else.
var ErrNotMultipart = errors.New("mime: not a multipart entity")
