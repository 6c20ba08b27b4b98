package proxyproto

import (
	"bufio"
	"net"
	"net/netip"
	"sync"
	"time"
)

// DefaultHeaderTimeout is the time a trusted peer has to send its header
// when Config.HeaderTimeout is zero.
const DefaultHeaderTimeout = 5 * time.Second

// Config configures a PROXY protocol listener.
type Config struct {
	// Trusted lists the prefixes of the proxies allowed to send a header.
	// Connections from them must start with one; connections from any
	// other address are passed through untouched. Empty trusts no one.
	// IPv4-mapped IPv6 peer addresses are matched as IPv4.
	Trusted []netip.Prefix
	// HeaderTimeout bounds the time to read the header. Zero means
	// DefaultHeaderTimeout.
	HeaderTimeout time.Duration
}

// Listener accepts connections and wraps those from trusted proxies in a
// *[Conn].
type Listener struct {
	inner net.Listener
	cfg   Config
}

// NewListener returns a Listener over inner. With no Trusted prefixes
// there is nothing to check, and inner itself is returned, so a server
// may wrap its listener unconditionally.
func NewListener(inner net.Listener, cfg Config) net.Listener {
	if len(cfg.Trusted) == 0 {
		return inner
	}
	if cfg.HeaderTimeout <= 0 {
		cfg.HeaderTimeout = DefaultHeaderTimeout
	}
	cfg.Trusted = append([]netip.Prefix(nil), cfg.Trusted...)
	return &Listener{inner: inner, cfg: cfg}
}

// Accept waits for the next connection. It does not read from it: a
// connection from a trusted proxy is returned as a *Conn that reads the
// header on first use; any other connection is returned as it is.
func (l *Listener) Accept() (net.Conn, error) {
	c, err := l.inner.Accept()
	if err != nil {
		return nil, err
	}
	if !l.trusted(c.RemoteAddr()) {
		return c, nil
	}
	return &Conn{Conn: c, timeout: l.cfg.HeaderTimeout}, nil
}

func (l *Listener) trusted(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return false
	}
	ip := ta.AddrPort().Addr().Unmap()
	for _, p := range l.cfg.Trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// Close closes the inner listener.
func (l *Listener) Close() error { return l.inner.Close() }

// Addr returns the inner listener's address.
func (l *Listener) Addr() net.Addr { return l.inner.Addr() }

// Conn is a connection from a trusted proxy. It reads the PROXY header on
// first use (see the package documentation) and then reports the addresses
// the header carries.
type Conn struct {
	net.Conn
	timeout time.Duration

	once sync.Once
	hdr  *Header
	err  error

	mu           sync.Mutex
	readDeadline time.Time     // the caller's, restored after the header
	br           *bufio.Reader // bytes after the header; nil once drained
	brMu         sync.Mutex
}

// v1MaxLen fits; v2 reads its address block through this buffer too.
const bufSize = 256

func (c *Conn) init() {
	c.once.Do(func() {
		c.mu.Lock()
		user := c.readDeadline
		c.mu.Unlock()
		d := time.Now().Add(c.timeout)
		if !user.IsZero() && user.Before(d) {
			d = user
		}
		if c.err = c.Conn.SetReadDeadline(d); c.err != nil {
			return
		}
		br := bufio.NewReaderSize(c.Conn, bufSize)
		c.hdr, c.err = ReadHeader(br)
		c.mu.Lock()
		derr := c.Conn.SetReadDeadline(c.readDeadline)
		c.mu.Unlock()
		if c.err == nil {
			c.err = derr
		}
		if br.Buffered() > 0 {
			c.br = br
		}
	})
}

// Header reads the header if that has not happened yet and returns it.
func (c *Conn) Header() (*Header, error) {
	c.init()
	return c.hdr, c.err
}

// Read reads data after the header.
func (c *Conn) Read(p []byte) (int, error) {
	c.init()
	if c.err != nil {
		return 0, c.err
	}
	c.brMu.Lock()
	if c.br != nil {
		n, err := c.br.Read(p)
		if c.br.Buffered() == 0 {
			c.br = nil
		}
		c.brMu.Unlock()
		return n, err
	}
	c.brMu.Unlock()
	return c.Conn.Read(p)
}

// Write writes data; it fails if the header was missing or malformed.
func (c *Conn) Write(p []byte) (int, error) {
	c.init()
	if c.err != nil {
		return 0, c.err
	}
	return c.Conn.Write(p)
}

// RemoteAddr returns the client address the header carries, or the peer's
// own address if the header carries none or could not be read.
func (c *Conn) RemoteAddr() net.Addr {
	c.init()
	if c.hdr != nil && c.hdr.Command == Proxy && c.hdr.Source != nil {
		return c.hdr.Source
	}
	return c.Conn.RemoteAddr()
}

// LocalAddr returns the address the client connected to as the header
// carries it, or the connection's own local address.
func (c *Conn) LocalAddr() net.Addr {
	c.init()
	if c.hdr != nil && c.hdr.Command == Proxy && c.hdr.Destination != nil {
		return c.hdr.Destination
	}
	return c.Conn.LocalAddr()
}

// ProxyAddr returns the address of the proxy, the connection's real peer.
func (c *Conn) ProxyAddr() net.Addr { return c.Conn.RemoteAddr() }

// SetDeadline sets the read and write deadlines, as net.Conn.
func (c *Conn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.readDeadline = t
	return c.Conn.SetDeadline(t)
}

// SetReadDeadline sets the read deadline, as net.Conn. One set before the
// header is read also bounds reading the header.
func (c *Conn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.readDeadline = t
	return c.Conn.SetReadDeadline(t)
}
