package dmarc

import "github.com/posthorn/posthorn/smtp/authres"

// AuthResult returns the evaluation as a method result for an
// Authentication-Results field: dmarc=<result> with header.from, the
// Author Domain, and policy.dmarc, the policy applied or to be applied
// (RFC 9989 §9.1), when a record applied. A temperror carries its problem
// as the reason.
func (e *Evaluation) AuthResult() authres.Result {
	ar := authres.Result{Method: "dmarc", Value: string(e.Result), Props: make([]authres.Prop, 0, 2)}
	if e.Result == TempError {
		ar.Reason = e.Problem
	}
	if e.AuthorDomain != "" {
		ar.Props = append(ar.Props, authres.Prop{Type: "header", Name: "from", Value: e.AuthorDomain})
	}
	if e.Record != nil && e.Policy != "" {
		p := e.Policy
		if e.Result == Fail {
			p = Policy(e.Disposition)
		}
		ar.Props = append(ar.Props, authres.Prop{Type: "policy", Name: "dmarc", Value: string(p)})
	}
	return ar
}
