package smtpqueue

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/posthorn/posthorn/smtp/smtptest"
)

func TestParseSTSPolicy(t *testing.T) {
	p, err := parseSTSPolicy("version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\nmx: backupmx.example.com.\r\nmax_age: 604800\r\n")
	if err != nil {
		t.Fatal(err)
	}
	if p.mode != "enforce" || p.maxAge != 604800*time.Second || len(p.mx) != 3 {
		t.Fatalf("%+v", p)
	}
	// RFC 8461 §4.1: "*.example.com" matches "mail.example.com" but not
	// "example.com" or "foo.bar.example.com".
	for host, want := range map[string]bool{
		"mail.example.com": true, "MAIL.Example.COM.": true, "backupmx.example.com": true,
		"mx1.example.net": true, "example.net": false, "a.b.example.net": false, "example.com": false, "evilmail.example.com": false,
	} {
		if got := p.matches(host); got != want {
			t.Errorf("matches(%q) = %v", host, got)
		}
	}
	for _, bad := range []string{
		"mode: enforce\nmx: a\nmax_age: 1\n",                 // no version
		"version: STSv1\nmode: enforce\nmx: a\n",             // no max_age
		"version: STSv1\nmode: enforce\nmax_age: 10\n",       // enforce without mx
		"version: STSv1\nmode: strict\nmx: a\nmax_age: 10\n", // bad mode
		"version: STSv1\nmode: enforce\nmx: a\nmax_age: 99999999999\n",
	} {
		if _, err := parseSTSPolicy(bad); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

type stsTXT struct {
	mu  sync.Mutex
	txt map[string]string
}

func (r *stsTXT) set(name, v string) { r.mu.Lock(); r.txt[name] = v; r.mu.Unlock() }

func (r *stsTXT) LookupTXT(ctx context.Context, name string) ([]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if v, ok := r.txt[name]; ok {
		return []string{v}, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

// policyServer serves MTA-STS policies over HTTPS with a test CA; the
// client reaches it for any mta-sts.* host.
type policyServer struct {
	mu     sync.Mutex
	status int
	body   string
	hits   int
	srv    *httptest.Server
}

func newPolicyServer(t *testing.T) *policyServer {
	p := &policyServer{status: 200}
	p.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.hits++
		if r.URL.Path != "/.well-known/mta-sts.txt" || !strings.HasPrefix(r.Host, "mta-sts.") {
			http.NotFound(w, r)
			return
		}
		if p.status == http.StatusMovedPermanently {
			http.Redirect(w, r, "https://elsewhere.test/policy", p.status)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(p.status)
		w.Write([]byte(p.body))
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *policyServer) set(status int, body string) {
	p.mu.Lock()
	p.status, p.body = status, body
	p.mu.Unlock()
}

func (p *policyServer) client() *http.Client {
	tr := p.srv.Client().Transport.(*http.Transport).Clone()
	addr := p.srv.Listener.Addr().String()
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	// The test CA's certificate names example.com, not mta-sts.one.test.
	tr.TLSClientConfig.ServerName = "example.com"
	return &http.Client{Transport: tr}
}

// MTA-STS in enforce mode: delivery only to a matching MX over verified
// TLS; a mismatch defers (never bounces); a cached policy stays in force
// when the refresh fails; a corrected policy lets the mail through;
// "testing" delivers despite a mismatch; a redirect is not followed.
func TestMTASTS(t *testing.T) {
	txt := &stsTXT{txt: map[string]string{"_mta-sts.one.test": "v=STSv1; id=1"}}
	ps := newPolicyServer(t)
	ps.set(200, "version: STSv1\nmode: enforce\nmx: *.other.test\nmax_age: 86400\n")
	var h *harness
	rec := &TLSRecorder{}
	h = newHarness(t, []string{"one.test", "sender.test"}, func(o *Options) {
		mx := o.Transport.(*MX)
		mx.TLSRPT = rec
		mx.Options.Options.TLSConfig = smtptest.NewServer(t).ClientTLSConfig()
		mx.STS = &MTASTS{Resolver: txt, HTTPClient: ps.client(), Now: func() time.Time { return h.clock.Now() }}
	})
	id := h.enqueue(&Envelope{From: "alice@sender.test", To: []string{"bob@one.test"}}, testMsg)
	h.attempted(id, 1)
	mi, err := h.q.Get(id)
	if err != nil || mi.Recipients[0].Status != StatusPending || !strings.Contains(mi.LastReply, "MTA-STS") {
		t.Fatalf("mismatching MX not deferred: %+v %v", mi, err)
	}

	// The TXT id changes but the policy cannot be fetched: the cached
	// policy stays in force (RFC 8461 §5.1).
	txt.set("_mta-sts.one.test", "v=STSv1; id=2")
	ps.set(500, "")
	h.q.RetryNow(id)
	h.attempted(id, 2)
	if mi, _ := h.q.Get(id); mi.Recipients[0].Status != StatusPending {
		t.Fatal("delivered against the cached policy")
	}

	// Fixed: after the 5 minutes between failed fetches (§3.3), the new
	// policy names the MX and the message goes over verified TLS.
	ps.set(200, "version: STSv1\nmode: enforce\nmx: mx.one.test\nmax_age: 86400\n")
	h.clock.Advance(6 * time.Minute)
	h.q.RetryNow(id)
	h.empty()
	got := h.srv("one.test").Messages()
	if len(got) != 1 || !got[0].TLS {
		t.Fatalf("after the fix: %d messages", len(got))
	}
	if n := len(h.srv("sender.test").Messages()); n != 0 {
		t.Errorf("%d DSNs for an enforced-policy deferral", n)
	}

	// testing mode: a mismatch is delivered anyway.
	txt.set("_mta-sts.two.test", "v=STSv1; id=t")
	h.net.mu.Lock()
	h.net.servers["two.test"] = smtptest.NewServer(t)
	h.net.mu.Unlock()
	ps.set(200, "version: STSv1\nmode: testing\nmx: *.other.test\nmax_age: 86400\n")
	h.enqueue(&Envelope{From: "alice@sender.test", To: []string{"bob@two.test"}}, testMsg)
	h.empty()
	if n := len(h.srv("two.test").Messages()); n != 1 {
		t.Errorf("testing mode: %d deliveries", n)
	}
	// ... and reported as what enforce would have refused (RFC 8461 §5,
	// RFC 8460 §4.3): policy type sts, not no-policy-found.
	now := h.clock.Now()
	rep := rec.Report("two.test", now.Add(-time.Hour), now.Add(time.Hour), "posthorn", "tlsrpt@sender.test")
	if rep == nil || len(rep.Policies) != 1 || rep.Policies[0].Policy.Type != "sts" || rep.Policies[0].Summary.Failed != 1 ||
		rep.Policies[0].FailureDetails[0].ResultType != "validation-failure" || rep.Policies[0].FailureDetails[0].ReceivingMXHostname != "mx.two.test" {
		t.Fatalf("testing-mode TLS-RPT: %+v", rep)
	}
}

// A testing policy's check of an unverified session finds each failure
// enforce would have refused, as the TLS-RPT result type it is.
func TestSTSTestingCheck(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), DNSNames: []string{"mx.good.test"}, NotBefore: t0.Add(-time.Hour), NotAfter: t0.Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	cs := tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert}}
	p := &stsPolicy{mode: "testing", mx: []string{"*.good.test", "mx.other.test"}}
	cfg := &tls.Config{RootCAs: roots}
	for _, tt := range []struct {
		host string
		cfg  *tls.Config
		now  time.Time
		want string // result type, "" for success
	}{
		{"mx.good.test", cfg, t0, ""},
		{"mx.bad.test", cfg, t0, "validation-failure"},
		{"mx.other.test", cfg, t0, "certificate-host-mismatch"},
		{"mx.good.test", &tls.Config{RootCAs: x509.NewCertPool()}, t0, "certificate-not-trusted"},
		{"mx.good.test", cfg, t0.Add(48 * time.Hour), "certificate-expired"},
	} {
		err := p.check(tt.host, cs, tt.cfg, tt.now)
		got := ""
		if err != nil {
			got = tlsResultType(err)
		}
		if got != tt.want {
			t.Errorf("%s at %s: %q (%v), want %q", tt.host, tt.now, got, err, tt.want)
		}
	}
	if err := p.check("mx.good.test", tls.ConnectionState{}, cfg, t0); tlsResultType(err) != "starttls-not-supported" {
		t.Errorf("no certificate: %v", err)
	}
}

func TestMTASTSNoRedirect(t *testing.T) {
	ps := newPolicyServer(t)
	ps.set(http.StatusMovedPermanently, "")
	s := &MTASTS{Resolver: &stsTXT{txt: map[string]string{"_mta-sts.one.test": "v=STSv1; id=1"}}, HTTPClient: ps.client()}
	if p := s.policy(context.Background(), "one.test"); p != nil {
		t.Fatalf("policy through a redirect: %+v", p)
	}
	if ps.hits != 1 {
		t.Errorf("%d fetches: the redirect was followed", ps.hits)
	}
}
