package smtpqueue

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/posthorn/posthorn/smtp"
	"github.com/posthorn/posthorn/smtp/smtpclient"
)

// Direct delivery (RFC 5321 §5) with connections kept between messages:
// the rules are smtpclient.Deliver's (MX preference order, equal
// preferences shuffled, implicit MX, null MX, the next host on a
// connection failure or 4xx, opportunistic or verified STARTTLS, IDN
// domains by their A-labels), plus the recipients' RCPT parameters and an
// idle pool per MX host, so a stream of messages to one destination
// shares a connection.

const (
	mxMaxIdlePerHost = 10
	mxMaxIdle        = 200 // in all
	// mxIdleTimeout is how long an unused connection is kept by default:
	// a stream of messages reuses it, an idle server is not held on to
	// (Postfix keeps its cached connections 2 s).
	mxIdleTimeout = 5 * time.Second
	mxNoopAfter   = 2 * time.Second
)

type idleConn struct {
	c     *smtpclient.Client
	since time.Time
}

type mxPool struct {
	idleTimeout time.Duration

	mu    sync.Mutex
	idle  map[string][]idleConn // by host and TLS policy
	nidle int
	sweep *time.Timer     // closes the connections idle too long; nil when none is idle
	dsn   map[string]bool // whether the last host of a destination offered DSN
}

func (t *MX) pool() *mxPool {
	t.poolOnce.Do(func() {
		t.p = &mxPool{idleTimeout: t.IdleTimeout, idle: map[string][]idleConn{}, dsn: map[string]bool{}}
		if t.p.idleTimeout <= 0 {
			t.p.idleTimeout = mxIdleTimeout
		}
	})
	return t.p
}

// CloseIdle closes the connections kept for reuse. The queue calls it when
// Run returns.
func (t *MX) CloseIdle() {
	p := t.pool()
	p.mu.Lock()
	idle := p.idle
	p.idle, p.nidle = map[string][]idleConn{}, 0
	if p.sweep != nil {
		p.sweep.Stop()
		p.sweep = nil
	}
	p.mu.Unlock()
	for _, l := range idle {
		for _, ic := range l {
			ic.c.Close()
		}
	}
}

// RelaysDSN reports whether the host that last took mail for dest offered
// DSN, so that NOTIFY went on with the message (RFC 3461 §5.2.1).
func (t *MX) RelaysDSN(_ context.Context, dest string) bool {
	p := t.pool()
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dsn[dest]
}

func (p *mxPool) get(ctx context.Context, key string) *smtpclient.Client {
	for {
		p.mu.Lock()
		l := p.idle[key]
		if len(l) == 0 {
			p.mu.Unlock()
			return nil
		}
		ic := l[len(l)-1]
		p.idle[key] = l[:len(l)-1]
		p.nidle--
		if len(p.idle[key]) == 0 {
			delete(p.idle, key)
		}
		p.mu.Unlock()
		idle := time.Since(ic.since)
		if idle > p.idleTimeout {
			ic.c.Close()
			continue
		}
		if idle > mxNoopAfter {
			if err := ic.c.Noop(ctx); err != nil {
				ic.c.Close()
				continue
			}
		}
		return ic.c
	}
}

func (p *mxPool) put(key string, c *smtpclient.Client, max int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.idle[key]) >= max || p.nidle >= mxMaxIdle {
		c.Close()
		return
	}
	p.idle[key] = append(p.idle[key], idleConn{c, time.Now()})
	p.nidle++
	if p.sweep == nil {
		p.sweep = time.AfterFunc(p.idleTimeout, p.closeExpired)
	}
}

// closeExpired closes the connections idle longer than idleTimeout (with
// QUIT, in the background) and runs again while any is left.
func (p *mxPool) closeExpired() {
	p.mu.Lock()
	var old []*smtpclient.Client
	for key, l := range p.idle {
		kept := l[:0]
		for _, ic := range l {
			if time.Since(ic.since) >= p.idleTimeout {
				old = append(old, ic.c)
				p.nidle--
			} else {
				kept = append(kept, ic)
			}
		}
		if len(kept) == 0 {
			delete(p.idle, key)
		} else {
			p.idle[key] = kept
		}
	}
	p.sweep = nil
	if p.nidle > 0 {
		p.sweep = time.AfterFunc(p.idleTimeout/2, p.closeExpired)
	}
	p.mu.Unlock()
	for _, c := range old {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c.Quit(ctx)
		}()
	}
}

// send delivers to recipients that share one domain.
func (t *MX) send(ctx context.Context, domain string, env *smtpclient.Envelope, msg smtpclient.Message, o *smtpclient.DeliverOptions, sts *stsPolicy, dp *danePlan) []smtpclient.RecipientResult {
	res := make([]smtpclient.RecipientResult, len(env.To))
	for i, to := range env.To {
		res[i].Recipient = to
	}
	setAll := func(idx []int, err error) {
		for _, i := range idx {
			res[i].Err = err
		}
	}
	all := make([]int, len(env.To))
	for i := range all {
		all[i] = i
	}
	var hosts []string
	var err error
	if dp != nil && dp.active {
		for _, h := range dp.hosts {
			hosts = append(hosts, h.name)
		}
	} else if hosts, err = smtpclient.MXHosts(ctx, o.Resolver, domain); err != nil {
		setAll(all, err)
		return res
	}
	if len(hosts) > o.MaxHosts {
		hosts = hosts[:o.MaxHosts]
	}
	policy := o.TLS
	if env.MailOptions.RequireTLS {
		policy = smtpclient.TLSRequired // RFC 8689 §4.2.1
	}
	p := t.pool()
	pending := all
	var lastErr error
	for hi, h := range hosts {
		if len(pending) == 0 {
			break
		}
		var dh *daneHost
		if dp != nil && dp.active {
			dh = &dp.hosts[hi]
			if dh.err != nil {
				// RFC 7672 §2.1.2: a host whose TLSA lookup failed is
				// treated as unreachable.
				t.recorder(ctx).record(domain, nil, dh, h, dh.err)
				lastErr = dh.err
				continue
			}
			if dh.tlsa == nil {
				dh = nil
			}
		}
		addr := net.JoinHostPort(h, o.Port)
		key := addr + "|" + string(rune('0'+policy))
		if dh != nil {
			// Authenticated for this domain's reference identifiers.
			key = addr + "|dane|" + domain
		}
		c := p.get(ctx, key)
		if c == nil {
			if dh != nil {
				c, err = dialDANE(ctx, addr, &o.Options, dh)
			} else {
				c, err = dialMX(ctx, addr, &o.Options, policy)
			}
			if policy != smtpclient.TLSNone || dh != nil {
				tlsErr := err
				if err == nil {
					cs, ok := c.TLSConnectionState()
					switch {
					case !ok:
						tlsErr = errNoTLS
					case dh == nil && sts != nil && sts.mode == "testing":
						// RFC 8461 §5: a testing policy delivers
						// anyway but reports what enforce would have
						// refused (RFC 8460 §4.3).
						tlsErr = sts.check(h, cs, o.Options.TLSConfig, t.STS.now())
					}
				}
				t.recorder(ctx).record(domain, sts, dh, h, tlsErr)
			}
			if err != nil {
				var de *net.DNSError
				if errors.As(err, &de) && de.IsNotFound && len(hosts) == 1 && h == domain {
					lastErr = smtpclient.ErrNoHost
					break
				}
				lastErr = err
				var se *smtp.Error
				if errors.As(err, &se) && se.Permanent() {
					break
				}
				continue
			}
		}
		e := &smtpclient.Envelope{From: env.From, MailOptions: env.MailOptions}
		for _, i := range pending {
			e.To = append(e.To, aLabel(env.To[i], domain))
			if env.RcptOptions != nil {
				e.RcptOptions = append(e.RcptOptions, env.RcptOptions[i])
			}
		}
		r, err := c.Send(ctx, e, msg, msg.Size())
		var pe *smtpclient.PartialError
		if err == nil || errors.As(err, &pe) {
			_, dsn := c.Extension("DSN")
			p.mu.Lock()
			p.dsn[domain] = dsn
			p.mu.Unlock()
		}
		if !reusable(ctx, err) {
			c.Close()
		} else {
			// A refusal of this message leaves the session usable: the
			// next message follows on it (the client resets the
			// transaction first, RFC 5321 §4.1.1.5), so one bad message
			// costs the others no new connection.
			p.put(key, c, t.maxIdle())
		}
		if r == nil {
			lastErr = err
			continue
		}
		var next []int
		for j, i := range pending {
			res[i].Err = r[j].Err
			if r[j].Temporary() {
				next = append(next, i)
			}
		}
		pending = next
		lastErr = nil
	}
	if lastErr != nil {
		setAll(pending, lastErr)
	}
	return res
}

// recorder returns the TLS-RPT recorder for the delivery in ctx: none for a
// TLS report itself (RFC 8460 §3).
func (t *MX) recorder(ctx context.Context) *TLSRecorder {
	if tlsPolicyExempt(ctx) {
		return nil
	}
	return t.TLSRPT
}

func (t *MX) maxIdle() int {
	if t.MaxIdlePerHost > 0 {
		return t.MaxIdlePerHost
	}
	return mxMaxIdlePerHost
}

// reusable reports whether a connection is fit for the next message after
// Send returned err: on success, and after the server refused this
// message with a reply (other than 421) or the client refused to send it;
// not after anything that may have broken the session.
func reusable(ctx context.Context, err error) bool {
	if err == nil {
		return true
	}
	if broken(ctx, err) {
		return false
	}
	var se *smtp.Error
	return errors.As(err, &se) || errors.Is(err, smtpclient.ErrNeeds8BitMIME) || errors.Is(err, smtpclient.ErrNeedsSMTPUTF8) ||
		errors.Is(err, smtpclient.ErrTooLarge) || errors.Is(err, smtpclient.ErrRequireTLS)
}

// broken reports whether err left the connection unusable, so that QUIT
// would only wait for a timeout.
func broken(ctx context.Context, err error) bool {
	if err == nil {
		return false
	}
	var ne net.Error
	var se *smtp.Error
	if errors.As(err, &se) && se.Code == 421 {
		return true // RFC 5321 §3.8: the server closes the channel
	}
	return ctx.Err() != nil || errors.Is(err, smtpclient.ErrClosed) || errors.Is(err, smtpclient.ErrOutcomeUnknown) || errors.As(err, &ne)
}

// aLabel writes an internationalised domain with an ASCII local part as
// its A-label, so the message needs no SMTPUTF8.
func aLabel(to, domain string) string {
	if m, err := smtp.ParseMailbox(to); err == nil && isASCII(m.Local) && !isASCII(m.Domain) {
		return smtp.Mailbox{Local: m.Local, Domain: domain}.String()
	}
	return to
}

// sortMX returns the MX host names in preference order, equal preferences
// shuffled (RFC 5321 §5.1).
func sortMX(mxs []*net.MX) []string {
	mxs = slices.Clone(mxs)
	slices.SortStableFunc(mxs, func(a, b *net.MX) int { return cmp.Compare(a.Pref, b.Pref) })
	for i := 0; i < len(mxs); {
		j := i
		for j < len(mxs) && mxs[j].Pref == mxs[i].Pref {
			j++
		}
		rand.Shuffle(j-i, func(a, b int) { mxs[i+a], mxs[i+b] = mxs[i+b], mxs[i+a] })
		i = j
	}
	var hosts []string
	for _, mx := range mxs {
		if h := strings.TrimSuffix(mx.Host, "."); h != "" {
			hosts = append(hosts, h)
		}
	}
	return hosts
}

// dialMX connects with the TLS policy: STARTTLS verified (required),
// STARTTLS unverified with a plaintext fallback when the handshake fails
// (opportunistic, RFC 7435), or none.
func dialMX(ctx context.Context, addr string, o *smtpclient.Options, policy smtpclient.TLSPolicy) (*smtpclient.Client, error) {
	c, err := smtpclient.Dial(ctx, addr, o)
	if err != nil {
		return nil, err
	}
	switch policy {
	case smtpclient.TLSNone:
		return c, nil
	case smtpclient.TLSRequired:
		if err := c.StartTLS(ctx, nil); err != nil {
			c.Close()
			return nil, err
		}
		return c, nil
	}
	if err := c.Hello(ctx); err != nil {
		c.Close()
		return nil, err
	}
	if _, ok := c.Extension("STARTTLS"); !ok {
		return c, nil
	}
	var cfg *tls.Config
	if o.TLSConfig != nil {
		cfg = o.TLSConfig.Clone()
	} else {
		cfg = &tls.Config{}
	}
	if cfg.ServerName == "" {
		cfg.ServerName, _, _ = net.SplitHostPort(addr)
	}
	cfg.InsecureSkipVerify = true // RFC 7435: encrypt without authenticating
	if err := c.StartTLS(ctx, cfg); err != nil {
		c.Close()
		var oe *net.OpError
		if errors.As(err, &oe) || errors.Is(err, smtpclient.ErrClosed) || ctx.Err() != nil {
			return nil, err
		}
		// The handshake was refused: plaintext on a new connection.
		return smtpclient.Dial(ctx, addr, o)
	}
	return c, nil
}
