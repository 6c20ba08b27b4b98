package spf

import "github.com/posthorn/posthorn/smtp/authres"

// AuthResult returns the outcome as a method result for an
// Authentication-Results field (RFC 8601 §2.7.2): spf=<result> with
// smtp.mailfrom (the sender checked) or smtp.helo, and the problem as the
// reason for temperror and permerror. Values are checked when the field is
// formatted, so client-supplied text cannot inject anything.
func (o *Outcome) AuthResult() authres.Result {
	ar := authres.Result{Method: "spf", Value: string(o.Result)}
	if o.Result == TempError || o.Result == PermError {
		ar.Reason = clean(o.Problem)
	}
	if o.Identity == IdentityHelo {
		ar.Props = []authres.Prop{{Type: "smtp", Name: "helo", Value: o.Helo}}
	} else {
		ar.Props = []authres.Prop{{Type: "smtp", Name: "mailfrom", Value: o.Sender}}
	}
	return ar
}
