package dns

import (
	"bufio"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Config is what the client takes from resolv.conf(5).
type Config struct {
	// Servers are the name servers, in the order to ask them.
	Servers []netip.AddrPort
	// Timeout is the time to wait for one server's answer.
	Timeout time.Duration
	// Attempts is the number of rounds over Servers.
	Attempts int
	// Rotate asks the servers round-robin instead of first to last.
	Rotate bool
	// TrustAD is glibc's "options trust-ad": the path to every server is
	// trusted, so the AD bit of their answers counts.
	TrustAD bool
}

// defaultConfig is what an empty or missing resolv.conf means: the local
// resolver, as glibc and Go's own resolver assume.
func defaultConfig() Config {
	return Config{
		Servers:  []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:53"), netip.MustParseAddrPort("[::1]:53")},
		Timeout:  5 * time.Second,
		Attempts: 2,
	}
}

// maxResolvConfLines bounds how much of a resolv.conf is read.
const maxResolvConfLines = 1000

// ParseConfig reads a resolv.conf. Unknown lines are ignored. With no
// nameserver line the local resolver (127.0.0.1 and ::1) is used, as the
// C library does.
func ParseConfig(r io.Reader) (Config, error) {
	c := defaultConfig()
	c.Servers = nil
	sc := bufio.NewScanner(r)
	for n := 0; sc.Scan() && n < maxResolvConfLines; n++ {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || strings.HasPrefix(f[0], "#") || strings.HasPrefix(f[0], ";") {
			continue
		}
		switch f[0] {
		case "nameserver":
			if len(f) < 2 || len(c.Servers) >= 3 { // resolv.conf(5): MAXNS is 3
				continue
			}
			ip, err := netip.ParseAddr(f[1])
			if err != nil {
				continue
			}
			c.Servers = append(c.Servers, netip.AddrPortFrom(ip, 53))
		case "options":
			for _, o := range f[1:] {
				switch {
				case o == "rotate":
					c.Rotate = true
				case o == "trust-ad":
					c.TrustAD = true
				case strings.HasPrefix(o, "timeout:"):
					if n, err := strconv.Atoi(o[len("timeout:"):]); err == nil && n >= 1 {
						c.Timeout = time.Duration(min(n, 30)) * time.Second
					}
				case strings.HasPrefix(o, "attempts:"):
					if n, err := strconv.Atoi(o[len("attempts:"):]); err == nil && n >= 1 {
						c.Attempts = min(n, 5)
					}
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return Config{}, err
	}
	if len(c.Servers) == 0 {
		c.Servers = defaultConfig().Servers
	}
	return c, nil
}
