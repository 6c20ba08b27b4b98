package smtpclient

import (
	"cmp"
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"slices"
	"strings"

	"golang.org/x/net/idna"

	"github.com/posthorn/posthorn/smtp"
)

// Resolver looks up MX records; *net.Resolver implements it. Replace it
// in tests or to use a DNSSEC-validating resolver.
type Resolver interface {
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
}

// DeliverOptions configure Deliver. The zero value works.
type DeliverOptions struct {
	// Resolver finds MX hosts; nil means net.DefaultResolver.
	Resolver Resolver
	// Port is the SMTP port of the MX hosts; "" means "25".
	Port string
	// TLS is the policy; TLSDefault means TLSOpportunistic.
	TLS TLSPolicy
	// Options configure the connections (LocalName should be this host's
	// public name).
	Options Options
	// MailOptions carries DSN and REQUIRETLS parameters (see Envelope).
	MailOptions smtp.MailOptions
	// RcptOptions, when not nil, holds each recipient's NOTIFY and ORCPT
	// (RFC 3461 §4.1, §4.2), parallel to the recipients given to Deliver;
	// they go with the recipient when its MX host offers DSN.
	RcptOptions []smtp.RcptOptions
	// MaxHosts bounds how many MX hosts are tried per domain; 0 means 5.
	MaxHosts int
}

// Errors Deliver reports per recipient.
var (
	// ErrNullMX: the domain publishes a null MX and accepts no mail
	// (RFC 7505 §3). Permanent.
	ErrNullMX = &smtp.Error{Code: 556, Enhanced: smtp.EnhancedCode{5, 1, 10}, Message: "Recipient domain does not accept mail (null MX)"}
	// ErrNoHost: the domain does not exist. Permanent.
	ErrNoHost = &smtp.Error{Code: 550, Enhanced: smtp.EnhancedCode{5, 1, 2}, Message: "Recipient domain not found"}
)

// Temporary reports whether r failed in a way worth retrying later: a 4xx
// reply, a DNS or connection failure. It is false on success.
func (r RecipientResult) Temporary() bool {
	if r.Err == nil {
		return false
	}
	var se *smtp.Error
	if errors.As(r.Err, &se) {
		return se.Temporary()
	}
	var ae *smtp.AddressError
	if errors.As(r.Err, &ae) || isLocal(r.Err) {
		return false
	}
	return true
}

// Permanent reports whether r failed for good.
func (r RecipientResult) Permanent() bool { return r.Err != nil && !r.Temporary() }

// Deliver sends msg directly to the MX hosts of each recipient's domain
// (RFC 5321 §5): MX records in preference order, equal preferences in
// random order, the domain itself when it has no MX (implicit MX), none
// for a null MX (RFC 7505); the next host on a connection failure or a 4xx
// reply. Internationalised domains are looked up by their A-labels. The
// result has one entry per recipient, in order.
func Deliver(ctx context.Context, from string, rcpts []string, msg Message, opts *DeliverOptions) []RecipientResult {
	var o DeliverOptions
	if opts != nil {
		o = *opts
	}
	if o.Resolver == nil {
		o.Resolver = net.DefaultResolver
	}
	if o.Port == "" {
		o.Port = "25"
	}
	if o.TLS == TLSDefault {
		o.TLS = TLSOpportunistic
	}
	if o.MaxHosts <= 0 {
		o.MaxHosts = 5
	}
	results := make([]RecipientResult, len(rcpts))
	if o.RcptOptions != nil && len(o.RcptOptions) != len(rcpts) {
		err := errors.New("smtpclient: DeliverOptions.RcptOptions must be parallel to the recipients")
		for i, r := range rcpts {
			results[i] = RecipientResult{Recipient: r, Err: err}
		}
		return results
	}
	byDomain := map[string][]int{}
	var order []string
	for i, r := range rcpts {
		results[i].Recipient = r
		m, err := smtp.ParseMailbox(r)
		if err != nil {
			results[i].Err = err
			continue
		}
		d, err := idna.Lookup.ToASCII(strings.ToLower(m.Domain))
		if err != nil || strings.HasPrefix(m.Domain, "[") {
			if strings.HasPrefix(m.Domain, "[") {
				d = m.Domain
			} else {
				results[i].Err = &smtp.AddressError{Addr: r, Reason: "bad domain"}
				continue
			}
		}
		if _, ok := byDomain[d]; !ok {
			order = append(order, d)
		}
		byDomain[d] = append(byDomain[d], i)
	}
	for _, d := range order {
		idx := byDomain[d]
		deliverDomain(ctx, d, from, rcpts, idx, msg, &o, results)
	}
	return results
}

// MXHosts returns the hosts to try, in order, for mail to domain (an
// A-label, or an address literal in brackets) by the rules Deliver
// follows (RFC 5321 §5.1): MX records by preference, equal preferences in
// random order, the domain itself without MX records (implicit MX), the
// address of a literal; ErrNullMX for a null MX (RFC 7505), or the
// resolver's error. A queue that keeps its own connections (smtpqueue)
// shares these rules through it.
func MXHosts(ctx context.Context, r Resolver, domain string) ([]string, error) {
	if r == nil {
		r = net.DefaultResolver
	}
	return mxHosts(ctx, domain, &DeliverOptions{Resolver: r})
}

// mxHosts returns the hosts to try for domain, or a per-domain error.
func mxHosts(ctx context.Context, domain string, o *DeliverOptions) ([]string, error) {
	if strings.HasPrefix(domain, "[") {
		// An address literal names the host itself (RFC 5321 §4.1.3).
		in := strings.TrimSuffix(strings.TrimPrefix(domain, "["), "]")
		in = strings.TrimPrefix(strings.TrimPrefix(in, "IPv6:"), "ipv6:")
		return []string{in}, nil
	}
	mxs, err := o.Resolver.LookupMX(ctx, domain)
	if err != nil {
		var de *net.DNSError
		if errors.As(err, &de) && de.IsNotFound {
			// No MX: implicit MX, the domain's own address (§5.1). A
			// domain without addresses fails when it is dialled.
			return []string{domain}, nil
		}
		return nil, err
	}
	if len(mxs) == 0 {
		return []string{domain}, nil
	}
	// RFC 7505 §3: a single MX "." with preference 0 means no mail.
	if len(mxs) == 1 && (mxs[0].Host == "." || mxs[0].Host == "") {
		return nil, ErrNullMX
	}
	mxs = slices.Clone(mxs) // the resolver's answer may be cached
	slices.SortStableFunc(mxs, func(a, b *net.MX) int { return cmp.Compare(a.Pref, b.Pref) })
	// Randomise among equal preferences (§5.1).
	for i := 0; i < len(mxs); {
		j := i
		for j < len(mxs) && mxs[j].Pref == mxs[i].Pref {
			j++
		}
		rand.Shuffle(j-i, func(a, b int) { mxs[i+a], mxs[i+b] = mxs[i+b], mxs[i+a] })
		i = j
	}
	hosts := make([]string, 0, len(mxs))
	for _, mx := range mxs {
		h := strings.TrimSuffix(mx.Host, ".")
		if h == "" {
			continue
		}
		hosts = append(hosts, h)
	}
	return hosts, nil
}

func deliverDomain(ctx context.Context, domain, from string, rcpts []string, idx []int, msg Message, o *DeliverOptions, results []RecipientResult) {
	setAll := func(err error) {
		for _, i := range idx {
			results[i].Err = err
		}
	}
	hosts, err := mxHosts(ctx, domain, o)
	if err != nil {
		setAll(err)
		return
	}
	if len(hosts) > o.MaxHosts {
		hosts = hosts[:o.MaxHosts]
	}
	pending := idx
	var lastErr error
	for _, h := range hosts {
		if len(pending) == 0 {
			break
		}
		addr := net.JoinHostPort(h, o.Port)
		copts := o.Options
		policy := o.TLS
		if o.MailOptions.RequireTLS {
			// RFC 8689 §4.2.1: only over TLS with a verified certificate.
			policy = TLSRequired
		}
		c, err := dialPolicy(ctx, addr, &copts, policy)
		if err != nil {
			var de *net.DNSError
			if errors.As(err, &de) && de.IsNotFound && len(hosts) == 1 && h == domain {
				lastErr = ErrNoHost
				break
			}
			lastErr = err
			var se *smtp.Error
			if errors.As(err, &se) && se.Permanent() {
				break
			}
			continue
		}
		env := &Envelope{From: from, MailOptions: o.MailOptions}
		for _, i := range pending {
			to := rcpts[i]
			// An internationalised domain with an ASCII local part goes
			// as its A-label, so the message needs no SMTPUTF8.
			if m, err := smtp.ParseMailbox(to); err == nil && isASCII(m.Local) && !isASCII(m.Domain) {
				to = smtp.Mailbox{Local: m.Local, Domain: domain}.String()
			}
			env.To = append(env.To, to)
			if o.RcptOptions != nil {
				env.RcptOptions = append(env.RcptOptions, o.RcptOptions[i])
			}
		}
		res, err := c.Send(ctx, env, msg, msg.Size())
		if c.broken == nil {
			_ = c.Quit(ctx)
		} else {
			_ = c.Close()
		}
		if res == nil {
			lastErr = err
			continue
		}
		var next []int
		for j, i := range pending {
			results[i] = res[j]
			results[i].Recipient = rcpts[i]
			if res[j].Temporary() {
				next = append(next, i)
			}
		}
		pending = next
		lastErr = nil
	}
	if lastErr != nil {
		for _, i := range pending {
			results[i].Err = lastErr
		}
	}
}
