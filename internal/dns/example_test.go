package dns_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/posthorn/posthorn/internal/dns"
)

// One Client serves a whole program: it reads /etc/resolv.conf on first
// use and caches answers for their TTLs. Its methods have net.Resolver's
// signatures, so it fits the Resolver fields of spf.Checker,
// dmarc.Evaluator and dkim.VerifyOptions.
func ExampleClient() {
	c := &dns.Client{Timeout: 2 * time.Second}
	ctx := context.Background()
	txt, err := c.LookupTXT(ctx, "example.com")
	var de *net.DNSError
	switch {
	case err == nil:
		fmt.Println(txt)
	case errors.As(err, &de) && de.IsNotFound:
		fmt.Println("no TXT records")
	default:
		fmt.Println("try again later:", err) // a temporary failure
	}
	// DANE: TLSA records count only with the AD bit from a trusted resolver.
	tlsa, authentic, err := c.LookupTLSA(ctx, "_25._tcp.mx.example.com")
	if err == nil && authentic {
		fmt.Println(len(tlsa), "TLSA records")
	}
}
