package dns

import (
	"context"
	"errors"
	"fmt"
	"github.com/posthorn/posthorn/internal/ttlcache"
	"log/slog"
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

	once    sync.Once
	conf    Config // under mu
	confErr error
	// confChecked, confMod and confSize track resolv.conf for reloading.
	confChecked time.Time
	confMod     time.Time
	confSize    int64
	next        uint32 // rotation counter, under mu
	mu          sync.Mutex
	cache       ttlcache.Cache[cacheKey, *Response] // under mu
	inflight    map[cacheKey]*flight
	now         func() time.Time // tests move the clock
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

// reloadInterval is how often resolv.conf is checked for changes, as the
// C library and Go's resolver do.
const reloadInterval = 5 * time.Second

func (c *Client) init() {
	c.once.Do(func() {
		if c.now == nil {
			c.now = time.Now
		}
		c.mu.Lock()
		c.loadConfig()
		c.mu.Unlock()
	})
}

// loadConfig (under c.mu) sets c.conf from Servers or resolv.conf and the
// Client's fields.
func (c *Client) loadConfig() {
	c.confChecked = c.now()
	if len(c.Servers) > 0 {
		c.conf = defaultConfig()
		c.conf.Servers = c.Servers
	} else {
		c.conf, c.confErr = defaultConfig(), nil
		if f, err := os.Open(c.configPath()); err == nil {
			if st, err := f.Stat(); err == nil {
				c.confMod, c.confSize = st.ModTime(), st.Size()
			}
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
}

func (c *Client) configPath() string {
	if c.ConfigPath != "" {
		return c.ConfigPath
	}
	return "/etc/resolv.conf"
}

// config returns the configuration to query with, re-reading resolv.conf
// when it changed (checked at most every reloadInterval, and only when a
// query goes to the network).
func (c *Client) config() (Config, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.Servers) == 0 && c.now().Sub(c.confChecked) >= reloadInterval {
		c.confChecked = c.now()
		st, err := os.Stat(c.configPath())
		if err != nil || !st.ModTime().Equal(c.confMod) || st.Size() != c.confSize {
			c.loadConfig()
		}
	}
	return c.conf, c.confErr
}

// Lookup asks for the records of type typ at name, from the cache when it
// has an unexpired answer. NXDOMAIN and "no data" are a Response without
// records and a nil error; the error is a *net.DNSError for a temporary
// failure or an invalid name.
func (c *Client) Lookup(ctx context.Context, name string, typ dnsmessage.Type) (*Response, error) {
	c.init()
	// The cache key is the lower-case name without the root dot; for the
	// usual lower-case input it costs no allocation.
	key := strings.ToLower(strings.TrimSuffix(name, "."))
	if !validName(key) {
		return nil, &net.DNSError{Err: "invalid domain name", Name: name, IsNotFound: true}
	}
	var chain []string
	minTTL := time.Duration(-1)
	authentic := true
	for hop := 0; ; hop++ {
		resp, derr := c.lookupOne(ctx, key, typ)
		if derr != nil {
			derr.Name = name
			observeTTL(ctx, 0)
			return nil, derr
		}
		if hop == 0 && (len(resp.Records) > 0 || resp.RCode != dnsmessage.RCodeSuccess || len(resp.CNAMEs) == 0 || typ == dnsmessage.TypeCNAME) {
			observeTTL(ctx, resp.TTL)
			return resp, nil // the common case: no alias to chase
		}
		if minTTL < 0 || resp.TTL < minTTL {
			minTTL = resp.TTL
		}
		chain = append(chain, resp.CNAMEs...)
		// RFC 7672 §2.1.3: one insecure answer along the chain makes the
		// whole result insecure, whatever the last answer says.
		authentic = authentic && resp.Authentic
		if len(resp.Records) > 0 || resp.RCode != dnsmessage.RCodeSuccess || len(resp.CNAMEs) == 0 || typ == dnsmessage.TypeCNAME {
			out := *resp
			out.Name, out.CNAMEs, out.TTL, out.Authentic = key+".", chain, minTTL, authentic
			observeTTL(ctx, minTTL)
			return &out, nil
		}
		if hop+1 >= MaxCNAMEHops {
			observeTTL(ctx, 0)
			return nil, &net.DNSError{Err: "CNAME chain too long", Name: name, IsTemporary: false, IsNotFound: true}
		}
		// The answer ended at an alias: ask for its target.
		key = strings.TrimSuffix(resp.CNAMEs[len(resp.CNAMEs)-1], ".")
		if !validName(key) {
			observeTTL(ctx, 0)
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

func (c *Client) lookupOne(ctx context.Context, name string, typ dnsmessage.Type) (*Response, *net.DNSError) {
	key := cacheKey{name, typ}
	now := c.now()
	if c.CacheSize >= 0 {
		c.mu.Lock()
		resp, expires, ok := c.cache.Get(key, now)
		c.mu.Unlock()
		if ok {
			r := *resp
			r.TTL = expires.Sub(now)
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
	c.cache.Put(key, resp, now.Add(resp.TTL), now, size)
}

// String describes the response for logs and test failures.
func (r *Response) String() string {
	return fmt.Sprintf("%s %s %s records=%d ad=%v ttl=%s", r.Name, r.Type, r.RCode, len(r.Records), r.Authentic, r.TTL)
}
