package dns

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// Resolver is what the mail packages need from DNS. *net.Resolver and
// *Client implement it; tests substitute a table. Errors are *net.DNSError
// (see the package comment for which flag means what).
type Resolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
	LookupAddr(ctx context.Context, addr string) ([]string, error)
}

// Defaults of Client's zero fields.
const (
	DefaultCacheSize = 10000
	DefaultMaxTTL    = 24 * time.Hour
	MaxCNAMEHops     = 8
	// udpSize is the EDNS(0) buffer size we announce: the DNS flag day 2020
	// value that avoids IP fragmentation.
	udpSize = 1232
)

// Client is a caching stub resolver. The zero value reads /etc/resolv.conf
// on first use; it is safe for concurrent use and should be shared.
type Client struct {
	// Servers, when set, replaces resolv.conf's name servers.
	Servers []netip.AddrPort
	// ConfigPath is the resolv.conf to read when Servers is empty; empty
	// means /etc/resolv.conf.
	ConfigPath string
	// Timeout per query and server; zero means resolv.conf's (default 5s).
	Timeout time.Duration
	// Attempts is the number of rounds over the servers; zero means
	// resolv.conf's (default 2).
	Attempts int
	// TrustAD says the path to every server is secure, so the AD bit of
	// their answers is reported even from a non-loopback address
	// (RFC 7672 §2.1.3). Answers from loopback servers are always trusted.
	TrustAD bool
	// CacheSize bounds the number of cached answers; zero means
	// DefaultCacheSize, negative disables the cache.
	CacheSize int
	// MaxTTL caps how long an answer is cached; zero means DefaultMaxTTL.
	MaxTTL time.Duration
	// Logger receives debug records of failed exchanges; nil logs nothing.
	Logger *slog.Logger

	once     sync.Once
	conf     Config
	confErr  error
	next     uint32 // rotation counter, under mu
	mu       sync.Mutex
	cache    map[cacheKey]cacheEntry
	inflight map[cacheKey]*flight
	now      func() time.Time // tests move the clock
}

// Response is one resolved answer.
type Response struct {
	// Name is the name asked for, fully qualified with a trailing dot.
	Name string
	// Type is the record type asked for.
	Type dnsmessage.Type
	// RCode is the server's response code: RCodeSuccess (possibly with no
	// records: "no data") or RCodeNameError (NXDOMAIN).
	RCode dnsmessage.RCode
	// Records are the answer records of Type, at the end of any CNAME
	// chain. They are shared with the cache: do not modify them.
	Records []dnsmessage.Resource
	// CNAMEs is the chain of aliases followed, in order (without Name).
	CNAMEs []string
	// Authentic is the AD bit, reported only from a trusted resolver.
	Authentic bool
	// TTL is the time the answer may be cached, counted from when it was
	// received.
	TTL time.Duration

	txt []string // TXT records joined once, for LookupTXT
}

// NotFound reports whether the response says the name or the record type
// does not exist.
func (r *Response) NotFound() bool {
	return r.RCode == dnsmessage.RCodeNameError || len(r.Records) == 0
}

func (c *Client) init() {
	c.once.Do(func() {
		if len(c.Servers) > 0 {
			c.conf = defaultConfig()
			c.conf.Servers = c.Servers
		} else {
			path := c.ConfigPath
			if path == "" {
				path = "/etc/resolv.conf"
			}
			f, err := os.Open(path)
			if err != nil {
				c.conf = defaultConfig()
			} else {
				c.conf, c.confErr = ParseConfig(f)
				f.Close()
			}
		}
		if c.Timeout > 0 {
			c.conf.Timeout = c.Timeout
		}
		if c.Attempts > 0 {
			c.conf.Attempts = c.Attempts
		}
		if c.TrustAD {
			c.conf.TrustAD = true
		}
		if c.now == nil {
			c.now = time.Now
		}
	})
}

// Lookup asks for the records of type typ at name, from the cache when it
// has an unexpired answer. NXDOMAIN and "no data" are a Response without
// records and a nil error; the error is a *net.DNSError for a temporary
// failure or an invalid name.
func (c *Client) Lookup(ctx context.Context, name string, typ dnsmessage.Type) (*Response, error) {
	c.init()
	if c.confErr != nil {
		return nil, &net.DNSError{Err: "reading resolv.conf: " + c.confErr.Error(), Name: name, IsTemporary: true}
	}
	// The cache key is the lower-case name without the root dot; for the
	// usual lower-case input it costs no allocation.
	key := strings.ToLower(strings.TrimSuffix(name, "."))
	if !validName(key) {
		return nil, &net.DNSError{Err: "invalid domain name", Name: name, IsNotFound: true}
	}
	var chain []string
	minTTL := time.Duration(-1)
	for hop := 0; ; hop++ {
		resp, derr := c.lookupOne(ctx, key, typ)
		if derr != nil {
			derr.Name = name
			return nil, derr
		}
		if hop == 0 && (len(resp.Records) > 0 || resp.RCode != dnsmessage.RCodeSuccess || len(resp.CNAMEs) == 0 || typ == dnsmessage.TypeCNAME) {
			return resp, nil // the common case: no alias to chase
		}
		if minTTL < 0 || resp.TTL < minTTL {
			minTTL = resp.TTL
		}
		chain = append(chain, resp.CNAMEs...)
		if len(resp.Records) > 0 || resp.RCode != dnsmessage.RCodeSuccess || len(resp.CNAMEs) == 0 || typ == dnsmessage.TypeCNAME {
			out := *resp
			out.Name, out.CNAMEs, out.TTL = key+".", chain, minTTL
			return &out, nil
		}
		if hop+1 >= MaxCNAMEHops {
			return nil, &net.DNSError{Err: "CNAME chain too long", Name: name, IsTemporary: false, IsNotFound: true}
		}
		// The answer ended at an alias: ask for its target.
		key = strings.TrimSuffix(resp.CNAMEs[len(resp.CNAMEs)-1], ".")
		if !validName(key) {
			return nil, &net.DNSError{Err: "invalid CNAME target", Name: name, IsNotFound: true}
		}
	}
}

// validName checks the lengths RFC 1035 §2.3.4 sets for a name without
// its root dot: labels of 1 to 63 octets, 255 octets in all on the wire.
func validName(name string) bool {
	if name == "" || name == "." {
		return true // the root
	}
	if len(name) > 253 {
		return false
	}
	start := 0
	for i := 0; i <= len(name); i++ {
		if i == len(name) || name[i] == '.' {
			if n := i - start; n == 0 || n > 63 {
				return false
			}
			start = i + 1
		}
	}
	return true
}

type cacheKey struct {
	name string
	typ  dnsmessage.Type
}

// flight is a query in progress; concurrent lookups of the same name and
// type wait for it instead of asking again.
type flight struct {
	done chan struct{}
	resp *Response
	err  *net.DNSError
}

type cacheEntry struct {
	resp    *Response
	expires time.Time
}

func (c *Client) lookupOne(ctx context.Context, name string, typ dnsmessage.Type) (*Response, *net.DNSError) {
	key := cacheKey{name, typ}
	now := c.now()
	if c.CacheSize >= 0 {
		c.mu.Lock()
		e, ok := c.cache[key]
		c.mu.Unlock()
		if ok && now.Before(e.expires) {
			r := *e.resp
			r.TTL = e.expires.Sub(now)
			return &r, nil
		}
	}
	qname, nerr := dnsmessage.NewName(name + ".")
	if nerr != nil {
		return nil, &net.DNSError{Err: "invalid domain name", Name: name, IsNotFound: true}
	}
	c.mu.Lock()
	if f, ok := c.inflight[key]; ok {
		c.mu.Unlock()
		select {
		case <-f.done:
		case <-ctx.Done():
			return nil, &net.DNSError{Err: ctx.Err().Error(), Name: name, IsTimeout: errors.Is(ctx.Err(), context.DeadlineExceeded), IsTemporary: true}
		}
		if f.err != nil {
			e := *f.err
			return nil, &e
		}
		r := *f.resp
		return &r, nil
	}
	f := &flight{done: make(chan struct{})}
	if c.inflight == nil {
		c.inflight = make(map[cacheKey]*flight)
	}
	c.inflight[key] = f
	c.mu.Unlock()
	resp, err := c.exchange(ctx, qname, typ)
	if err == nil && c.CacheSize >= 0 && resp.TTL > 0 {
		c.store(key, resp, now)
	}
	// resp is not modified from here on: it is shared with the cache and
	// the waiting lookups, each of which gets its own copy.
	c.mu.Lock()
	delete(c.inflight, key)
	c.mu.Unlock()
	f.resp, f.err = resp, err
	close(f.done)
	if err != nil {
		return nil, err
	}
	r := *resp
	return &r, nil
}

func (c *Client) store(key cacheKey, resp *Response, now time.Time) {
	maxTTL := c.MaxTTL
	if maxTTL <= 0 {
		maxTTL = DefaultMaxTTL
	}
	resp.TTL = min(resp.TTL, maxTTL)
	size := c.CacheSize
	if size == 0 {
		size = DefaultCacheSize
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cache == nil {
		c.cache = make(map[cacheKey]cacheEntry)
	}
	if len(c.cache) >= size {
		// Drop the expired entries; if none, an arbitrary one (map order).
		for k, e := range c.cache {
			if !now.Before(e.expires) {
				delete(c.cache, k)
			}
		}
		for k := range c.cache {
			if len(c.cache) < size {
				break
			}
			delete(c.cache, k)
		}
	}
	c.cache[key] = cacheEntry{resp: resp, expires: now.Add(resp.TTL)}
}

// exchange asks the servers in turn until one gives a definite answer
// (success or NXDOMAIN).
func (c *Client) exchange(ctx context.Context, qname dnsmessage.Name, typ dnsmessage.Type) (*Response, *net.DNSError) {
	servers := c.conf.Servers
	c.mu.Lock()
	start := 0
	if c.conf.Rotate {
		start = int(c.next % uint32(len(servers)))
		c.next++
	}
	c.mu.Unlock()
	var lastErr error
	timeout := false
	for attempt := 0; attempt < c.conf.Attempts; attempt++ {
		for i := range servers {
			if err := ctx.Err(); err != nil {
				return nil, &net.DNSError{Err: err.Error(), Name: qname.String(), IsTimeout: errors.Is(err, context.DeadlineExceeded), IsTemporary: true}
			}
			server := servers[(start+i)%len(servers)]
			resp, err := c.ask(ctx, server, qname, typ)
			if err == nil {
				return resp, nil
			}
			lastErr = err
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				timeout = true
			}
			if c.Logger != nil {
				c.Logger.Debug("dns exchange failed", "server", server.String(), "name", qname.String(), "type", typ.String(), "err", err)
			}
		}
	}
	msg := "no answer"
	if lastErr != nil {
		msg = lastErr.Error()
	}
	return nil, &net.DNSError{Err: msg, Name: qname.String(), IsTimeout: timeout, IsTemporary: true}
}

// errRCode is a server's answer that is neither success nor NXDOMAIN.
type errRCode dnsmessage.RCode

func (e errRCode) Error() string { return "server answered " + dnsmessage.RCode(e).String() }

func (c *Client) ask(ctx context.Context, server netip.AddrPort, qname dnsmessage.Name, typ dnsmessage.Type) (*Response, error) {
	id := uint16(rand.Uint32())
	q := dnsmessage.Question{Name: qname, Type: typ, Class: dnsmessage.ClassINET}
	query, err := buildQuery(id, q)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.conf.Timeout)
	defer cancel()
	raw, err := exchangeUDP(ctx, server, id, q, query)
	if err != nil {
		return nil, err
	}
	resp, truncated, err := parseResponse(raw, id, q)
	if err == nil && truncated {
		// RFC 7766 §5: a truncated UDP answer is asked again over TCP.
		raw, err = exchangeTCP(ctx, server, query)
		if err != nil {
			return nil, err
		}
		resp, _, err = parseResponse(raw, id, q)
	}
	if err != nil {
		return nil, err
	}
	if resp.RCode != dnsmessage.RCodeSuccess && resp.RCode != dnsmessage.RCodeNameError {
		return nil, errRCode(resp.RCode)
	}
	resp.Authentic = resp.Authentic && c.trusts(server)
	return resp, nil
}

// trusts reports whether the AD bit from server counts (RFC 7672 §2.1.3).
func (c *Client) trusts(server netip.AddrPort) bool {
	return c.conf.TrustAD || server.Addr().Unmap().IsLoopback()
}

func buildQuery(id uint16, q dnsmessage.Question) ([]byte, error) {
	// RFC 6840 §5.7: a stub asks for the AD bit by setting it in the query.
	b := dnsmessage.NewBuilder(make([]byte, 2, 512), dnsmessage.Header{ID: id, RecursionDesired: true, AuthenticData: true})
	b.EnableCompression()
	if err := b.StartQuestions(); err != nil {
		return nil, err
	}
	if err := b.Question(q); err != nil {
		return nil, err
	}
	if err := b.StartAdditionals(); err != nil {
		return nil, err
	}
	var rh dnsmessage.ResourceHeader
	if err := rh.SetEDNS0(udpSize, dnsmessage.RCodeSuccess, false); err != nil {
		return nil, err
	}
	if err := b.OPTResource(rh, dnsmessage.OPTResource{}); err != nil {
		return nil, err
	}
	msg, err := b.Finish()
	if err != nil {
		return nil, err
	}
	// The first two bytes are room for the TCP length prefix.
	binary.BigEndian.PutUint16(msg, uint16(len(msg)-2))
	return msg, nil
}

func exchangeUDP(ctx context.Context, server netip.AddrPort, id uint16, q dnsmessage.Question, query []byte) ([]byte, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "udp", server.String())
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	if _, err := conn.Write(query[2:]); err != nil {
		return nil, err
	}
	buf := make([]byte, udpSize+256)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctxTimeout{ctx.Err()}
			}
			return nil, err
		}
		// A datagram whose ID or question differs is not our answer: keep
		// reading (RFC 5452 §9.1).
		if _, _, err := parseResponse(buf[:n], id, q); errors.Is(err, errMismatch) {
			continue
		}
		return append([]byte(nil), buf[:n]...), nil
	}
}

// ctxTimeout reports a context's end as a net.Error timeout.
type ctxTimeout struct{ err error }

func (e ctxTimeout) Error() string   { return e.err.Error() }
func (e ctxTimeout) Timeout() bool   { return true }
func (e ctxTimeout) Temporary() bool { return true }

func exchangeTCP(ctx context.Context, server netip.AddrPort, query []byte) ([]byte, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", server.String())
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	if _, err := conn.Write(query); err != nil {
		return nil, err
	}
	var l [2]byte
	if _, err := io.ReadFull(conn, l[:]); err != nil {
		return nil, err
	}
	buf := make([]byte, binary.BigEndian.Uint16(l[:]))
	if _, err := io.ReadFull(conn, buf); err != nil {
		return nil, err
	}
	return buf, nil
}

var errMismatch = errors.New("dns: answer does not match the query")

// maxRecords bounds the answer records kept from one message.
const maxRecords = 512

// parseResponse decodes an answer to q. It returns the records of q.Type at
// the end of the CNAME chain that starts at q.Name, and the TTL the answer
// may be cached for.
func parseResponse(msg []byte, id uint16, q dnsmessage.Question) (*Response, bool, error) {
	var p dnsmessage.Parser
	h, err := p.Start(msg)
	if err != nil {
		return nil, false, err
	}
	if h.ID != id || !h.Response {
		return nil, false, errMismatch
	}
	qs, err := p.AllQuestions()
	if err != nil {
		return nil, false, err
	}
	if len(qs) != 1 || qs[0].Type != q.Type || qs[0].Class != q.Class || !strings.EqualFold(qs[0].Name.String(), q.Name.String()) {
		return nil, false, errMismatch
	}
	if h.Truncated {
		return nil, true, nil
	}
	resp := &Response{Name: q.Name.String(), Type: q.Type, RCode: h.RCode, Authentic: h.AuthenticData}
	if h.RCode != dnsmessage.RCodeSuccess && h.RCode != dnsmessage.RCodeNameError {
		return resp, false, nil
	}
	answers := make([]dnsmessage.Resource, 0, 4)
	for len(answers) < maxRecords {
		r, err := p.Answer()
		if errors.Is(err, dnsmessage.ErrSectionDone) {
			break
		}
		if err != nil {
			return nil, false, err
		}
		if r.Header.Class == dnsmessage.ClassINET {
			answers = append(answers, r)
		}
	}
	// Follow the CNAME chain from the question name.
	cur := strings.ToLower(q.Name.String())
	ttl := time.Duration(-1)
	seen := map[string]bool{cur: true}
	for range MaxCNAMEHops {
		next := ""
		for _, r := range answers {
			if cn, ok := r.Body.(*dnsmessage.CNAMEResource); ok && q.Type != dnsmessage.TypeCNAME && strings.EqualFold(r.Header.Name.String(), cur) {
				next = strings.ToLower(cn.CNAME.String())
				ttl = minTTL(ttl, r.Header.TTL)
				break
			}
		}
		if next == "" || seen[next] {
			break
		}
		seen[next] = true
		resp.CNAMEs = append(resp.CNAMEs, next)
		cur = next
	}
	for _, r := range answers {
		if r.Header.Type == q.Type && strings.EqualFold(r.Header.Name.String(), cur) {
			resp.Records = append(resp.Records, r)
			ttl = minTTL(ttl, r.Header.TTL)
		}
	}
	if len(resp.Records) == 0 {
		// A negative answer: cache it for the SOA's negative TTL
		// (RFC 2308 §5), and not at all without an SOA.
		ttl = 0
		if err := p.SkipAllAnswers(); err == nil || errors.Is(err, dnsmessage.ErrSectionDone) {
			for {
				ah, err := p.AuthorityHeader()
				if err != nil {
					break
				}
				if ah.Type != dnsmessage.TypeSOA {
					if p.SkipAuthority() != nil {
						break
					}
					continue
				}
				soa, err := p.SOAResource()
				if err != nil {
					break
				}
				ttl = time.Duration(min(ah.TTL, soa.MinTTL)) * time.Second
				break
			}
		}
	}
	resp.TTL = max(ttl, 0)
	if q.Type == dnsmessage.TypeTXT {
		resp.txt = make([]string, 0, len(resp.Records))
		for _, r := range resp.Records {
			if t, ok := r.Body.(*dnsmessage.TXTResource); ok {
				resp.txt = append(resp.txt, strings.Join(t.TXT, ""))
			}
		}
	}
	return resp, false, nil
}

func minTTL(cur time.Duration, ttl uint32) time.Duration {
	d := time.Duration(ttl) * time.Second
	if cur < 0 || d < cur {
		return d
	}
	return cur
}

// String describes the response for logs and test failures.
func (r *Response) String() string {
	return fmt.Sprintf("%s %s %s records=%d ad=%v ttl=%s", r.Name, r.Type, r.RCode, len(r.Records), r.Authentic, r.TTL)
}
