package mime

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
)

// MultipartWriter writes the body of a multipart entity (RFC 2046 §5.1):
// each part's delimiter line and header, then whatever the caller writes
// as its body, and the close delimiter. It is the lower-level tool under
// Builder, for custom structures; a part's body may itself be written with
// a nested MultipartWriter.
type MultipartWriter struct {
	w        io.Writer
	boundary string
	parts    int
	closed   bool
}

// NewMultipartWriter returns a writer with a random boundary. The boundary
// starts with "=_", which can occur neither in base64 nor in
// quoted-printable text, so it never collides with an encoded body.
func NewMultipartWriter(w io.Writer) *MultipartWriter {
	return &MultipartWriter{w: w, boundary: randomBoundary()}
}

func randomBoundary() string {
	return "=_" + rand.Text()
}

// Boundary returns the boundary, for the Content-Type parameter.
func (mw *MultipartWriter) Boundary() string { return mw.boundary }

// ContentType returns "multipart/<subtype>; boundary=..." for this writer,
// with extra parameters (such as type for multipart/related).
func (mw *MultipartWriter) ContentType(subtype string, params map[string]string) string {
	p := map[string]string{"boundary": mw.boundary}
	for k, v := range params {
		p[k] = v
	}
	return FormatMediaType("multipart/"+subtype, p)
}

// SetBoundary replaces the random boundary. It must be 1 to 70 characters
// of the RFC 2046 §5.1.1 bchars, not ending in a space, and be called
// before the first part.
func (mw *MultipartWriter) SetBoundary(b string) error {
	if mw.parts > 0 {
		return errors.New("mime: SetBoundary after CreatePart")
	}
	if len(b) < 1 || len(b) > 70 || b[len(b)-1] == ' ' {
		return fmt.Errorf("mime: invalid boundary %q", b)
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '\'' || c == '(' || c == ')' || c == '+' || c == '_' || c == ',' || c == '-' ||
			c == '.' || c == '/' || c == ':' || c == '=' || c == '?' || c == ' ') {
			return fmt.Errorf("mime: invalid boundary %q", b)
		}
	}
	mw.boundary = b
	return nil
}

// CreatePart writes a delimiter line and the part's header h (with its
// terminating blank line), and returns the writer for the part's body,
// which is valid until the next CreatePart or Close. The body must not
// contain a line starting with "--" and the boundary; bodies encoded by
// NewTransferEncoder never do.
func (mw *MultipartWriter) CreatePart(h *Header) (io.Writer, error) {
	if err := mw.delimiter(); err != nil {
		return nil, err
	}
	if h == nil {
		h = &Header{}
	}
	if _, err := h.WriteTo(mw.w); err != nil {
		return nil, err
	}
	return mw.w, nil
}

// delimiter writes the delimiter line that starts a part.
func (mw *MultipartWriter) delimiter() error {
	if mw.closed {
		return errors.New("mime: CreatePart after Close")
	}
	var delim string
	if mw.parts == 0 {
		delim = "--" + mw.boundary + "\r\n"
	} else {
		// RFC 2046 §5.1.1: the CRLF before "--" belongs to the delimiter.
		delim = "\r\n--" + mw.boundary + "\r\n"
	}
	mw.parts++
	_, err := io.WriteString(mw.w, delim)
	return err
}

// Close writes the close delimiter. A multipart with no parts is invalid
// (RFC 2046 §5.1.1); Close then writes one empty part first.
func (mw *MultipartWriter) Close() error {
	if mw.closed {
		return nil
	}
	if mw.parts == 0 {
		if _, err := mw.CreatePart(nil); err != nil {
			return err
		}
	}
	mw.closed = true
	_, err := io.WriteString(mw.w, "\r\n--"+mw.boundary+"--\r\n")
	return err
}
