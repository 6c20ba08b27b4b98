package smtpserver

import (
	"bytes"
	"context"
	"io"
	"net/netip"
	"strings"

	"github.com/posthorn/posthorn/internal/limit"
	"github.com/posthorn/posthorn/smtp"
	"github.com/posthorn/posthorn/smtp/authres"
	"github.com/posthorn/posthorn/smtp/dkim"
	"github.com/posthorn/posthorn/smtp/dmarc"
	"github.com/posthorn/posthorn/smtp/spf"
)

// InboundAuth is the message authentication an MX does on the mail it
// receives, for StoreOptions.Authenticate: SPF at MAIL FROM (RFC 7208),
// DKIM while the message streams into the store (RFC 6376), DMARC once it
// has arrived (RFC 9989), and the results recorded in an
// Authentication-Results field (RFC 8601) and a Received-SPF field (RFC
// 7208 §9.1) above the Received: field. The message is read once: the DKIM
// verifier and the From: field scanner see it on its way to the store.
//
// Authentication-Results fields in the incoming header that carry
// AuthServID are removed on the way (RFC 8601 §5: they are forged, since
// only this host may write them).
//
// Replies, each at the step where the fact is known:
//
//   - SPF fail, with RejectSPFFail: 550 5.7.23 at MAIL (RFC 7372 §3.2);
//   - SPF temperror: 451 4.7.24 at MAIL, so the client retries (RFC 7208
//     §8.6; a temporary DNS failure is never taken for a pass or fail);
//   - DMARC fail under p=reject, with ApplyDMARC: 550 5.7.1 after DATA
//     (RFC 9989 §5.3.7), nothing stored;
//   - DMARC temperror, or a failure under p=reject or p=quarantine while a
//     DKIM key lookup failed temporarily, with ApplyDMARC: 451 4.7.1;
//   - more than one From: field, with ApplyDMARC: 550 5.7.1 (RFC 5322
//     §3.6 allows one; two would let a sender choose which one DMARC
//     checks and which one the reader sees).
//
// DMARC quarantine, with ApplyDMARC, does not refuse the message: it sets
// AuthVerdict.Quarantine, which a store reads with InboundVerdict from
// the context of DeliverMessage once body reached io.EOF (for example to
// file the message into Junk). A store that does not look delivers it as
// any other, with dmarc=fail and policy.dmarc=quarantine in its
// Authentication-Results for a filter to act on.
//
// Sessions that authenticated (ConnInfo.Identity set: submission) are not
// checked unless CheckAuthenticated is set, nor are clients in Trusted.
type InboundAuth struct {
	// AuthServID names this host in Authentication-Results (RFC 8601
	// §2.5), normally the server's Hostname. Required.
	AuthServID string
	// SPF checks the MAIL FROM identity; nil checks no SPF (and DMARC
	// then sees spf=none).
	SPF *spf.Checker
	// DKIM verifies the message's signatures with these options; nil
	// verifies none.
	DKIM *dkim.VerifyOptions
	// DMARC evaluates the author domain's policy; nil evaluates none.
	DMARC *dmarc.Evaluator
	// RejectSPFFail refuses an SPF fail at MAIL FROM (RFC 7208 §8.4
	// permits it). Many receivers leave it unset and let DMARC decide,
	// since a forwarded message fails SPF but may pass DKIM.
	RejectSPFFail bool
	// CheckHelo also checks the HELO identity (RFC 7208 §2.3 recommends
	// it), once per HELO name in a session, and records the result in
	// Authentication-Results as spf with smtp.helo (AuthVerdict.SPFHelo).
	// With RejectSPFFail a HELO fail is refused at MAIL as a MAIL FROM
	// fail is; a HELO temperror refuses nothing. For the null
	// reverse-path the MAIL FROM identity is postmaster@ the HELO name
	// (§2.4), so the one evaluation serves both. DMARC uses only the
	// MAIL FROM result (RFC 9989 §4.4.2).
	CheckHelo bool
	// ApplyDMARC applies the author domain's reject and quarantine
	// policies; unset, the DMARC result is only recorded.
	ApplyDMARC bool
	// Reports, when set, records every DMARC evaluation of a message
	// that was then accepted or refused (not one answered 451) for the
	// aggregate reports of RFC 9990; Reports.Due gives them once their
	// period has ended. A policy not applied because ApplyDMARC is unset
	// is reported as disposition none with reason local_policy.
	Reports *dmarc.Recorder
	// NoReceivedSPF leaves out the Received-SPF field
	// (Authentication-Results has the SPF result too).
	NoReceivedSPF bool
	// CheckAuthenticated checks authenticated sessions too.
	CheckAuthenticated bool
	// Trusted are client networks whose mail is not checked: this host
	// and the relays that pass it mail they checked (as Postfix's
	// mynetworks). Their Authentication-Results fields are kept.
	Trusted []netip.Prefix
}

// AuthVerdict is what InboundAuth found about one message.
type AuthVerdict struct {
	// SPF is the MAIL FROM check; nil without InboundAuth.SPF.
	SPF *spf.Outcome
	// SPFHelo is the HELO identity's check; nil without
	// InboundAuth.CheckHelo, or when the client sent no HELO name.
	SPFHelo *spf.Outcome
	// DKIM has one result per signature.
	DKIM []dkim.Result
	// DMARC is the evaluation; nil without InboundAuth.DMARC or without a
	// usable From: address.
	DMARC *dmarc.Evaluation
	// Quarantine is set when ApplyDMARC is on and the author domain's
	// policy asks to quarantine the message (RFC 9989 §5.3.7): deliver it
	// where the user sees it as suspicious, such as a Junk mailbox.
	Quarantine bool
}

type verdictKey struct{}

// InboundVerdict returns the authentication verdict for the message being
// delivered, from the context NewStoreBackend passes to
// DeliveryStore.DeliverMessage when StoreOptions.Authenticate is set, or
// nil. Its fields are final once the body has returned io.EOF (when
// DeliverMessage calls header, or after); before that they are not.
func InboundVerdict(ctx context.Context) *AuthVerdict {
	v, _ := ctx.Value(verdictKey{}).(*AuthVerdict)
	return v
}

var (
	errSPFFail      = smtp.NewError(550, smtp.EnhancedCode{5, 7, 23}, "SPF check failed")
	errSPFTemp      = smtp.NewError(451, smtp.EnhancedCode{4, 7, 24}, "SPF check failed temporarily, try again later")
	errDMARCTemp    = smtp.NewError(451, smtp.EnhancedCode{4, 7, 1}, "DMARC check failed temporarily, try again later")
	errMultipleFrom = smtp.NewError(550, smtp.EnhancedCode{5, 7, 1}, "A message must have one From: field")
)

// checking reports whether InboundAuth applies to this session.
func (s *storeSession) checking() bool {
	a := s.b.opts.Authenticate
	if a == nil || (s.conn.Identity != nil && !a.CheckAuthenticated) {
		return false
	}
	if len(a.Trusted) > 0 {
		ip := limit.AddrOf(s.conn.RemoteAddr)
		for _, p := range a.Trusted {
			if p.Contains(ip) {
				return false
			}
		}
	}
	return true
}

// authMail checks SPF at MAIL FROM.
func (s *storeSession) authMail(ctx context.Context, from smtp.Mailbox) error {
	a := s.b.opts.Authenticate
	if a.SPF == nil {
		return nil
	}
	ip := limit.AddrOf(s.conn.RemoteAddr)
	if a.CheckHelo && s.conn.Hostname != "" {
		// RFC 7208 §2.3: the HELO identity, checked once per name.
		if s.helo == nil || s.heloName != s.conn.Hostname {
			s.helo, s.heloName = a.SPF.CheckHelo(ctx, ip, s.conn.Hostname), s.conn.Hostname
		}
		s.verdict.SPFHelo = s.helo
		if s.helo.Result == spf.Fail && a.RejectSPFFail {
			return spfFailError(s.helo)
		}
	}
	var o *spf.Outcome
	switch {
	case from.IsNull() && s.verdict.SPFHelo != nil:
		// RFC 7208 §2.4: the MAIL FROM identity of the null
		// reverse-path is postmaster@ the HELO name, just checked.
		c := *s.verdict.SPFHelo
		c.Identity = spf.IdentityMailFrom
		o = &c
	case from.IsNull():
		o = a.SPF.CheckMailFrom(ctx, ip, s.conn.Hostname, "")
	default:
		o = a.SPF.CheckMailFrom(ctx, ip, s.conn.Hostname, from.String())
	}
	s.verdict.SPF = o
	switch {
	case o.Result == spf.TempError:
		return errSPFTemp
	case o.Result == spf.Fail && a.RejectSPFFail:
		return spfFailError(o)
	}
	return nil
}

// spfFailError is the reply to an SPF fail (RFC 7372 §3.2).
func spfFailError(o *spf.Outcome) error {
	if o.Explanation != "" {
		// RFC 7208 §6.2: the explanation goes to the sender.
		return smtp.NewError(550, smtp.EnhancedCode{5, 7, 23}, "SPF check failed: "+o.Explanation)
	}
	return errSPFFail
}

// authReader passes the message to the store with forged
// Authentication-Results removed, feeds the original to the DKIM verifier
// and the From: scanner, and at its end evaluates DMARC and writes the
// result fields into s.extra, or refuses the message.
type authReader struct {
	s      *storeSession
	ctx    context.Context
	r      io.Reader
	v      *dkim.Verifier
	filter *authres.Filter
	scan   fromScanner
	out    bytes.Buffer // filtered header bytes not yet read
	res    []authres.Result
	err    error // the final error, io.EOF or a refusal
}

func (s *storeSession) authBody(ctx context.Context, r io.Reader) io.Reader {
	a := s.b.opts.Authenticate
	ar := &s.auth
	*ar = authReader{s: s, ctx: ctx, r: r, out: ar.out, filter: ar.filter, res: ar.res, scan: fromScanner{from: ar.scan.from[:0]}}
	ar.out.Reset()
	if a.DKIM != nil {
		ar.v = dkim.NewVerifier(ctx, a.DKIM)
	}
	if ar.filter == nil {
		ar.filter = authres.NewFilter(&ar.out, a.AuthServID)
	} else {
		ar.filter.Reset(&ar.out)
	}
	return ar
}

func (a *authReader) Read(p []byte) (int, error) {
	for {
		if a.out.Len() > 0 {
			n, _ := a.out.Read(p)
			return n, nil
		}
		if a.err != nil {
			return 0, a.err
		}
		n, err := a.r.Read(p)
		if n > 0 {
			chunk := p[:n]
			if a.v != nil {
				a.v.Write(chunk) // its errors show in Results
			}
			if !a.scan.done {
				// Still in the header: through the filter.
				a.scan.write(chunk)
				a.filter.Write(chunk)
				n = 0
			}
		}
		if err == io.EOF {
			a.filter.Close()
			a.err = a.s.authEnd()
			if a.err == nil {
				a.err = io.EOF
			}
			err = nil
		} else if err != nil {
			a.err = err
			err = nil
		}
		if n > 0 {
			return n, nil
		}
	}
}

// authEnd evaluates DMARC and writes the result fields once the message
// has arrived.
func (s *storeSession) authEnd() error {
	a := s.b.opts.Authenticate
	ar := &s.auth
	v := &s.verdict
	res := ar.res[:0]
	defer func() { ar.res = res[:0] }()
	if v.SPF != nil {
		res = append(res, v.SPF.AuthResult())
	}
	if v.SPFHelo != nil {
		res = append(res, v.SPFHelo.AuthResult())
	}
	dkimTemp := false
	if ar.v != nil {
		ar.v.Close()
		v.DKIM = ar.v.Results()
		if len(v.DKIM) == 0 {
			res = append(res, authres.Result{Method: "dkim", Value: "none"})
		}
		for i := range v.DKIM {
			res = append(res, v.DKIM[i].AuthResult())
			dkimTemp = dkimTemp || v.DKIM[i].Status == dkim.TempError
		}
	}
	if a.DMARC != nil {
		switch {
		case ar.scan.count > 1:
			res = append(res, authres.Result{Method: "dmarc", Value: "permerror", Reason: "more than one From field"})
			if a.ApplyDMARC {
				return errMultipleFrom
			}
		default:
			// RFC 5322 §2.2.3: unfolding removes the CRLFs.
			author, err := dmarc.AuthorDomain(strings.ReplaceAll(string(ar.scan.from), "\r\n", ""))
			if err != nil {
				res = append(res, authres.Result{Method: "dmarc", Value: "permerror", Reason: "no usable From address"})
				break
			}
			m := dmarc.Message{From: author}
			if v.SPF != nil {
				m.SPF = dmarc.SPFResult{Domain: v.SPF.Domain, Result: string(v.SPF.Result)}
			}
			for i := range v.DKIM {
				if sig := v.DKIM[i].Signature; sig != nil {
					m.DKIM = append(m.DKIM, dmarc.DKIMResult{Domain: sig.Domain, Selector: sig.Selector, Result: string(v.DKIM[i].Status)})
				}
			}
			ev := a.DMARC.Evaluate(ar.ctx, &m)
			v.DMARC = ev
			res = append(res, ev.AuthResult())
			if a.ApplyDMARC {
				switch {
				case ev.Result == dmarc.TempError:
					return errDMARCTemp
				case ev.Result == dmarc.Fail && dkimTemp &&
					(ev.Disposition == dmarc.DispositionReject || ev.Disposition == dmarc.DispositionQuarantine):
					// A signature whose key did not load might have
					// passed: ask again rather than judge.
					return errDMARCTemp
				case ev.Disposition == dmarc.DispositionReject:
					s.report(&m, ev)
					return smtp.NewError(550, smtp.EnhancedCode{5, 7, 1}, "Rejected by the DMARC policy of "+ev.PolicyDomain)
				case ev.Disposition == dmarc.DispositionQuarantine:
					v.Quarantine = true
				}
			}
			s.report(&m, ev)
		}
	}
	if len(res) > 0 {
		h := authres.Header{AuthServID: a.AuthServID, Results: res}
		var err error
		if s.extra, err = h.AppendField(s.extra); err != nil {
			s.b.log.Error("Authentication-Results not written", "err", err)
		}
	}
	if v.SPF != nil && !a.NoReceivedSPF {
		s.extra = v.SPF.AppendReceivedSPF(s.extra)
	}
	return nil
}

// report records an evaluation for the aggregate reports.
func (s *storeSession) report(m *dmarc.Message, ev *dmarc.Evaluation) {
	a := s.b.opts.Authenticate
	if a.Reports == nil || ev.Result == dmarc.TempError {
		return
	}
	o := dmarc.Observation{SourceIP: limit.AddrOf(s.conn.RemoteAddr), Message: m, Evaluation: ev}
	if len(s.to) > 0 {
		o.EnvelopeTo = s.to[0].Domain
	}
	if !a.ApplyDMARC && (ev.Disposition == dmarc.DispositionReject || ev.Disposition == dmarc.DispositionQuarantine) {
		// RFC 9990 §3.1.1.14: what was done, and why it differs.
		o.Disposition = dmarc.DispositionNone
		o.Reasons = []dmarc.PolicyReason{{Type: "local_policy"}}
	}
	a.Reports.Record(o)
}

// maxFromField bounds the From: field kept for DMARC; a longer one is
// cut, and then does not parse.
const maxFromField = 8 << 10

var fromName = []byte("From")

// fromScanner finds the From: fields of a message header as it streams
// past and keeps the value of the first.
type fromScanner struct {
	done    bool   // past the header
	mid     bool   // inside a line
	name    []byte // the start of the current line, while it may be a name
	inFrom  bool   // the current field is the first From:
	nameOK  bool   // the current line's name has been judged
	count   int    // From: fields seen
	from    []byte // the first From: field's value, unfolded CRLFs kept
	nameBuf [16]byte
}

func (f *fromScanner) write(p []byte) {
	for len(p) > 0 && !f.done {
		if !f.mid {
			// At the start of a line.
			c := p[0]
			switch {
			case c == ' ' || c == '\t':
				// A continuation of the current field.
				f.mid, f.nameOK = true, true
				continue
			case c == '\r' || c == '\n':
				f.done = true // the blank line ending the header
				return
			}
			f.inFrom, f.nameOK, f.mid = false, false, true
			f.name = f.nameBuf[:0]
		}
		i := bytes.IndexByte(p, '\n')
		line := p
		if i >= 0 {
			line = p[:i+1]
		}
		p = p[len(line):]
		if !f.nameOK {
			colon := bytes.IndexByte(line, ':')
			part := line
			if colon >= 0 {
				part = line[:colon]
			}
			if len(f.name)+len(part) <= len(f.nameBuf) {
				f.name = append(f.name, part...)
			} else {
				f.nameOK = true // too long to be From
			}
			if colon >= 0 && !f.nameOK {
				f.nameOK = true
				if bytes.EqualFold(bytes.TrimRight(f.name, " \t"), fromName) {
					f.count++
					f.inFrom = f.count == 1
				}
				line = line[colon+1:]
			}
		}
		if f.inFrom && f.nameOK && len(f.from)+len(line) <= maxFromField {
			f.from = append(f.from, line...)
		}
		if i >= 0 {
			f.mid = false
		}
	}
}
