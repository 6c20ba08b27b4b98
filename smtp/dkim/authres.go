package dkim

import (
	"encoding/base64"
	"errors"

	"github.com/posthorn/posthorn/smtp/authres"
)

// AuthResult returns r as a method result for an Authentication-Results
// field (RFC 8601 §2.7.1): dkim=<status>, a reason when not Pass, and the
// properties header.d, header.i, header.s, header.a and header.b (the
// first 12 characters of the signature, enough to tell signatures apart,
// RFC 6008).
func (r *Result) AuthResult() authres.Result {
	ar := authres.Result{Method: "dkim", Value: string(r.Status)}
	if r.Status == "" {
		ar.Value = "none"
	}
	if r.Err != nil {
		ar.Reason = reason(r.Err)
	}
	if s := r.Signature; s != nil {
		ar.Props = append(ar.Props,
			authres.Prop{Type: "header", Name: "d", Value: s.Domain},
			authres.Prop{Type: "header", Name: "i", Value: s.Identifier},
			authres.Prop{Type: "header", Name: "s", Value: s.Selector},
			authres.Prop{Type: "header", Name: "a", Value: string(s.Algorithm)})
		if b := base64.StdEncoding.EncodeToString(s.Value); len(b) > 0 {
			ar.Props = append(ar.Props, authres.Prop{Type: "header", Name: "b", Value: b[:min(12, len(b))]})
		}
	}
	return ar
}

// reason is a short reason text: the package's sentinel message without
// the "dkim: " prefix, or the error's own text when it wraps none.
func reason(err error) string {
	for _, e := range []error{ErrSHA1, ErrKeyTooSmall, ErrExpired, ErrNoKey, ErrKeyRevoked,
		ErrKeyMismatch, ErrBodyHash, ErrSignature, ErrTemporary, ErrTooMany, ErrHeaderTooLarge,
		ErrUnsupported, ErrSyntax} {
		if errors.Is(err, e) {
			return e.Error()[len("dkim: "):]
		}
	}
	msg := err.Error()
	if len(msg) > 6 && msg[:6] == "dkim: " {
		msg = msg[6:]
	}
	return msg
}
