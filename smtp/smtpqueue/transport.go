package smtpqueue

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/idna"

	"github.com/posthorn/posthorn/smtp"
	"github.com/posthorn/posthorn/smtp/smtpclient"
)

// Transport sends a message to the recipients at one destination. The
// queue groups a message's pending recipients by Destination, sends each
// group in one transaction, and limits the deliveries in progress per
// destination (Options.MaxPerDestination).
type Transport interface {
	// Destination returns the name recipients are grouped and limited by:
	// their domain for direct delivery, the server for a smarthost.
	Destination(rcpt string) string
	// Send tries to deliver msg to env.To and returns one result per
	// recipient, in order: nil Err for accepted, a Temporary error to
	// retry that recipient later, a Permanent one to bounce it.
	Send(ctx context.Context, env *smtpclient.Envelope, msg smtpclient.Message) []smtpclient.RecipientResult
}

// MX delivers directly to each recipient domain's MX hosts by the rules of
// smtpclient.Deliver: preference order, fallback to the next host, null MX
// (RFC 7505), implicit MX, IDN; each recipient's NOTIFY and ORCPT are
// passed on, and connections are kept for the next message to the same
// host. Set Options.Resolver and Options.Options.Dialer to reach test
// servers. An MX must not be copied after first use.
type MX struct {
	// Options configure the delivery as they would smtpclient.Deliver;
	// their MailOptions are replaced by each message's.
	Options smtpclient.DeliverOptions
	// STS, when set, applies MTA-STS policies (RFC 8461).
	STS *MTASTS
	// DANE, when set, applies DANE for SMTP (RFC 7672); it takes
	// precedence over STS where both apply.
	DANE *DANE
	// TLSRPT, when set, records the TLS outcome of every new connection
	// for TLS-RPT reports (RFC 8460).
	TLSRPT *TLSRecorder
	// DomainTLS, when set, gives a TLS policy of our own for a recipient
	// domain (an A-label, lower-case): smtpclient.TLSRequired to accept
	// only STARTTLS with a verified certificate, TLSDefault to keep
	// Options.TLS (and MTA-STS). A domain that cannot meet its policy is
	// deferred, not bounced.
	DomainTLS func(domain string) smtpclient.TLSPolicy
	// MaxIdlePerHost caps the connections kept open per MX host for the
	// next messages to it; zero means 10. Options.MaxPerDestination
	// deliveries to one destination run at once, each on a connection it
	// then keeps: with a cap at least as large, a stream of messages to a
	// destination reuses the same few connections instead of opening one
	// per message.
	MaxIdlePerHost int
	// IdleTimeout is how long a connection is kept unused before it is
	// closed with QUIT; zero means 5 seconds.
	IdleTimeout time.Duration

	poolOnce sync.Once
	p        *mxPool
}

// Destination returns the recipient's domain, lower-case, as an A-label.
func (t *MX) Destination(rcpt string) string { return domainOf(rcpt) }

// Send delivers to the recipients' MX hosts as smtpclient.Deliver does,
// passing each recipient's NOTIFY and ORCPT on and reusing a connection
// left open by an earlier message to the same host.
func (t *MX) Send(ctx context.Context, env *smtpclient.Envelope, msg smtpclient.Message) []smtpclient.RecipientResult {
	o := t.Options
	o.MailOptions = env.MailOptions
	if o.Resolver == nil {
		o.Resolver = net.DefaultResolver
	}
	if o.Port == "" {
		o.Port = "25"
	}
	if o.TLS == smtpclient.TLSDefault {
		o.TLS = smtpclient.TLSOpportunistic
	}
	if o.MaxHosts <= 0 {
		o.MaxHosts = 5
	}
	exempt := tlsPolicyExempt(ctx)
	var dp *danePlan
	if d, ok := oneDomain(env.To); ok && t.DANE != nil && !exempt && !strings.HasPrefix(d, "[") {
		// RFC 7672 §2.2: no DANE for an address literal.
		var err error
		if dp, err = t.DANE.plan(ctx, d, o.Port, o.MaxHosts); err != nil {
			t.TLSRPT.record(d, nil, &daneHost{}, "", err)
			return failAll(env.To, err)
		}
	}
	var sts *stsPolicy
	if t.STS != nil && len(env.To) > 0 && !exempt && (dp == nil || !dp.active) {
		// RFC 8461 §2: where DANE applies, MTA-STS does not.
		var err error
		if sts, err = t.applySTS(ctx, domainOf(env.To[0]), &o); err != nil {
			return failAll(env.To, err)
		}
	}
	if d, ok := oneDomain(env.To); ok && t.DomainTLS != nil && !exempt {
		if p := t.DomainTLS(d); p != smtpclient.TLSDefault {
			o.TLS = p
		}
	}
	var res []smtpclient.RecipientResult
	if d, ok := oneDomain(env.To); ok {
		res = t.send(ctx, d, env, msg, &o, sts, dp)
	} else {
		o.RcptOptions = env.RcptOptions
		res = smtpclient.Deliver(ctx, env.From, env.To, msg, &o)
	}
	if o.TLS == smtpclient.TLSRequired && !env.MailOptions.RequireTLS {
		// RFC 8461 §5: under an enforced policy (MTA-STS or our own) a TLS
		// failure is retried, not bounced (the client counts some as
		// permanent).
		for i := range res {
			if res[i].Err != nil && res[i].Permanent() && !isReply(res[i].Err) {
				res[i].Err = &stsError{"MTA-STS: " + res[i].Err.Error()}
			}
		}
	}
	return res
}

// failAll gives every recipient the same error.
func failAll(to []string, err error) []smtpclient.RecipientResult {
	res := make([]smtpclient.RecipientResult, len(to))
	for i, r := range to {
		res[i] = smtpclient.RecipientResult{Recipient: r, Err: err}
	}
	return res
}

// DSNRelayer is an optional interface of a Transport that knows whether
// the next hop for dest offers DSN (RFC 3461): then the NOTIFY, ORCPT, RET
// and ENVID parameters went on with the message, and a NOTIFY=SUCCESS
// request is the next hop's to answer (§5.2.1); otherwise the queue sends
// a "relayed" DSN itself (§5.2.2).
type DSNRelayer interface {
	RelaysDSN(ctx context.Context, dest string) bool
}

// Smarthost relays every message through one submission server with a
// smtpclient.Submitter (STARTTLS on 587 or implicit TLS on 465, AUTH, a
// pool of connections). NOTIFY, ORCPT, RET and ENVID go to the server
// when it offers DSN.
type Smarthost struct {
	Submitter *smtpclient.Submitter

	mu       sync.Mutex
	dsnKnown bool
	dsn      bool
}

// RelaysDSN reports whether the server offers DSN, learnt from its EHLO
// on one extra connection, the first time it is asked.
func (t *Smarthost) RelaysDSN(ctx context.Context, _ string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.dsnKnown {
		c, err := t.Submitter.Dial(ctx)
		if err != nil {
			return false
		}
		_, t.dsn = c.Extension("DSN")
		t.dsnKnown = true
		c.Quit(ctx)
	}
	return t.dsn
}

// Destination returns the server's address: all mail goes there.
func (t *Smarthost) Destination(string) string { return t.Submitter.Addr }

// Send submits the message. An error that is not per recipient applies to
// every recipient. ErrOutcomeUnknown (the connection broke after the
// message went out) counts as temporary: the message is sent again later,
// perhaps twice, never lost (RFC 5321 §6.1).
func (t *Smarthost) Send(ctx context.Context, env *smtpclient.Envelope, msg smtpclient.Message) []smtpclient.RecipientResult {
	res, err := t.Submitter.Submit(ctx, env, msg)
	if len(res) != len(env.To) {
		res = make([]smtpclient.RecipientResult, len(env.To))
		for i, to := range env.To {
			res[i].Recipient = to
		}
	}
	if err != nil {
		any := false
		for _, r := range res {
			if r.Err != nil {
				any = true
			}
		}
		if !any {
			for i := range res {
				res[i].Err = err
			}
		}
	}
	return res
}

// oneDomain returns the domain all of to share, as an A-label.
func oneDomain(to []string) (string, bool) {
	d := ""
	for i, a := range to {
		x := domainOf(a)
		if x == "" || (i > 0 && x != d) {
			return "", false
		}
		d = x
	}
	return d, d != ""
}

func isReply(err error) bool {
	var se *smtp.Error
	return errors.As(err, &se)
}

func domainOf(addr string) string {
	m, err := smtp.ParseMailbox(addr)
	if err != nil {
		return ""
	}
	d := strings.ToLower(m.Domain)
	if a, err := idna.Lookup.ToASCII(d); err == nil {
		d = a
	}
	return d
}
