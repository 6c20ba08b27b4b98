package smtpqueue

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/posthorn/posthorn/smtp/smtpclient"
)

// MTASTS applies MTA-STS policies (RFC 8461) to direct delivery: set it as
// MX.STS. For a domain whose policy is in "enforce" mode, mail goes only to
// MX hosts the policy names, over STARTTLS with a verified certificate;
// when none qualifies the recipients are deferred, never bounced, so that
// a corrected policy can still let the mail through (§5). "testing" and
// "none" deliver as without a policy (TLS-RPT reports are not sent yet).
//
// Policies are cached in memory for their max_age and refreshed when the
// TXT record's id changes; a cached policy stays in force when a refresh
// fails (§5.1). Where MX.DANE applies to a domain, its policy is not
// consulted (§2).
type MTASTS struct {
	// Resolver looks up the _mta-sts TXT record; nil means
	// net.DefaultResolver.
	Resolver interface {
		LookupTXT(ctx context.Context, name string) ([]string, error)
	}
	// HTTPClient fetches policies; nil means a client with a 30 s timeout.
	// Redirects are never followed (§3.3), whatever its CheckRedirect says.
	HTTPClient *http.Client
	// Now is the time; nil means time.Now.
	Now func() time.Time

	mu    sync.Mutex
	cache map[string]*stsPolicy
}

// stsPolicy is a fetched policy.
type stsPolicy struct {
	id      string
	mode    string // "enforce", "testing", "none"
	mx      []string
	maxAge  time.Duration
	fetched time.Time
	failed  time.Time // last failed refresh, to wait 5 minutes (§3.3)
}

// maxPolicySize bounds a policy body.
const maxPolicySize = 64 << 10

func (s *MTASTS) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// policy returns the policy in force for domain, nil for none.
func (s *MTASTS) policy(ctx context.Context, domain string) *stsPolicy {
	now := s.now()
	s.mu.Lock()
	cached := s.cache[domain]
	s.mu.Unlock()
	if cached != nil && now.Sub(cached.fetched) > cached.maxAge {
		cached = nil
	}
	id, ok := s.lookupID(ctx, domain)
	if !ok || (cached != nil && cached.id == id) {
		// No (valid) TXT record: a cached policy stays in force until it
		// expires (§5.1); without one there is no policy.
		return cached
	}
	if cached != nil && now.Sub(cached.failed) < 5*time.Minute {
		return cached
	}
	p, err := s.fetch(ctx, domain)
	if err != nil {
		if cached != nil {
			s.mu.Lock()
			cached.failed = now
			s.mu.Unlock()
		}
		return cached
	}
	p.id, p.fetched = id, now
	s.mu.Lock()
	if s.cache == nil {
		s.cache = map[string]*stsPolicy{}
	}
	s.cache[domain] = p
	s.mu.Unlock()
	return p
}

// lookupID reads the id of the _mta-sts TXT record (§3.1): exactly one
// record starting with v=STSv1.
func (s *MTASTS) lookupID(ctx context.Context, domain string) (string, bool) {
	var r interface {
		LookupTXT(ctx context.Context, name string) ([]string, error)
	} = net.DefaultResolver
	if s.Resolver != nil {
		r = s.Resolver
	}
	txts, err := r.LookupTXT(ctx, "_mta-sts."+domain)
	if err != nil {
		return "", false
	}
	var id string
	n := 0
	for _, t := range txts {
		if !strings.HasPrefix(t, "v=STSv1") {
			continue
		}
		n++
		for _, f := range strings.Split(t, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(f), "=")
			if k == "id" {
				id = v
			}
		}
	}
	if n != 1 || id == "" || len(id) > 32 {
		return "", false
	}
	return id, true
}

func (s *MTASTS) fetch(ctx context.Context, domain string) (*stsPolicy, error) {
	c := s.HTTPClient
	if c == nil {
		c = &http.Client{Timeout: 30 * time.Second}
	}
	nc := *c
	nc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://mta-sts."+domain+"/.well-known/mta-sts.txt", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Cache-Control", "no-cache") // §3.3: no HTTP caching
	resp, err := nc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("mta-sts: %s: HTTP %d", domain, resp.StatusCode)
	}
	if mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err != nil || mt != "text/plain" {
		return nil, fmt.Errorf("mta-sts: %s: media type %q", domain, resp.Header.Get("Content-Type"))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxPolicySize+1))
	if err != nil {
		return nil, err
	}
	if len(body) > maxPolicySize {
		return nil, errors.New("mta-sts: policy too large")
	}
	return parseSTSPolicy(string(body))
}

// parseSTSPolicy parses a policy body (§3.2).
func parseSTSPolicy(body string) (*stsPolicy, error) {
	p := &stsPolicy{}
	var version, maxAge bool
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch strings.TrimSpace(k) {
		case "version":
			version = v == "STSv1"
		case "mode":
			p.mode = v
		case "mx":
			if len(p.mx) < 100 {
				p.mx = append(p.mx, strings.ToLower(strings.TrimSuffix(v, ".")))
			}
		case "max_age":
			n, err := strconv.ParseUint(v, 10, 32)
			if err != nil || n > 31557600 {
				return nil, errors.New("mta-sts: bad max_age")
			}
			p.maxAge, maxAge = time.Duration(n)*time.Second, true
		}
	}
	if !version || !maxAge {
		return nil, errors.New("mta-sts: no version or max_age")
	}
	switch p.mode {
	case "enforce", "testing":
		if len(p.mx) == 0 {
			return nil, errors.New("mta-sts: no mx")
		}
	case "none":
	default:
		return nil, fmt.Errorf("mta-sts: bad mode %q", p.mode)
	}
	return p, nil
}

// errSTSMX is a testing-mode session with an MX host the policy does not
// list; TLS-RPT reports it as validation-failure.
var errSTSMX = errors.New("MTA-STS: the MX host does not match the policy")

// check says what an enforced policy would have refused of a session with
// mxHost that was encrypted without verification (testing mode): an MX
// host outside the policy, or a certificate not valid for it (RFC 8461
// §4.1, §4.2). roots come from cfg (nil: the system's).
func (p *stsPolicy) check(mxHost string, cs tls.ConnectionState, cfg *tls.Config, now time.Time) error {
	if !p.matches(mxHost) {
		return errSTSMX
	}
	if len(cs.PeerCertificates) == 0 {
		return errNoTLS
	}
	opts := x509.VerifyOptions{DNSName: strings.TrimSuffix(mxHost, "."), Intermediates: x509.NewCertPool(), CurrentTime: now}
	if cfg != nil {
		opts.Roots = cfg.RootCAs
	}
	for _, c := range cs.PeerCertificates[1:] {
		opts.Intermediates.AddCert(c)
	}
	_, err := cs.PeerCertificates[0].Verify(opts)
	return err
}

// matches reports whether the MX host is allowed by the policy (§4.1):
// "*.example.com" matches exactly one label before "example.com".
func (p *stsPolicy) matches(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, pat := range p.mx {
		if suffix, ok := strings.CutPrefix(pat, "*."); ok {
			label, rest, found := strings.Cut(host, ".")
			if found && label != "" && rest == suffix {
				return true
			}
		} else if host == pat {
			return true
		}
	}
	return false
}

// stsError is a temporary failure: RFC 8461 §5 wants enforce-mode
// failures retried, so it is not one of smtpclient's permanent errors.
type stsError struct{ msg string }

func (e *stsError) Error() string { return e.msg }

// fixedMX answers LookupMX with the hosts an enforce policy allows.
type fixedMX []*net.MX

func (f fixedMX) LookupMX(context.Context, string) ([]*net.MX, error) { return f, nil }

// applySTS adjusts the delivery options for the domain's policy. It
// returns an error when the policy leaves no host to deliver to.
func (t *MX) applySTS(ctx context.Context, domain string, o *smtpclient.DeliverOptions) (*stsPolicy, error) {
	p := t.STS.policy(ctx, domain)
	if p == nil || p.mode != "enforce" {
		return p, nil
	}
	r := o.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	mxs, err := r.LookupMX(ctx, domain)
	if err != nil {
		return p, &stsError{"MTA-STS: MX lookup for " + domain + " failed: " + err.Error()}
	}
	var ok fixedMX
	for _, mx := range mxs {
		if p.matches(mx.Host) {
			ok = append(ok, mx)
		}
	}
	if len(ok) == 0 {
		return p, &stsError{"MTA-STS: no MX host of " + domain + " matches its enforced policy"}
	}
	o.Resolver = ok
	// §4.2, §5: STARTTLS with a certificate valid for the MX host.
	o.TLS = smtpclient.TLSRequired
	return p, nil
}
