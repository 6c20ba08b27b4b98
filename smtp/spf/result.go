package spf

import (
	"context"
	"net"
	"net/netip"
)

// Result is the outcome of check_host() (RFC 7208 §2.6).
type Result string

// The results of RFC 7208 §2.6.
const (
	None      Result = "none"
	Neutral   Result = "neutral"
	Pass      Result = "pass"
	Fail      Result = "fail"
	SoftFail  Result = "softfail"
	TempError Result = "temperror"
	PermError Result = "permerror"
)

// Identity names the identity checked (RFC 7208 §2.3, §2.4).
type Identity string

// Identities, as the Received-SPF "identity" key spells them (§9.1).
const (
	IdentityMailFrom Identity = "mailfrom"
	IdentityHelo     Identity = "helo"
)

// Resolver is the DNS the evaluation needs; *net.Resolver implements it,
// and so does posthorn's caching client. Errors must be *net.DNSError:
// IsNotFound for NXDOMAIN and for no records of the type, anything else
// counts as a temporary failure (temperror, RFC 7208 §5).
type Resolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
	LookupAddr(ctx context.Context, addr string) ([]string, error)
}

// Outcome is the result of one check with what led to it.
type Outcome struct {
	Result Result
	// Identity is the identity checked.
	Identity Identity
	// IP is the SMTP client's address, Helo its HELO/EHLO name.
	IP   netip.Addr
	Helo string
	// Sender is the <sender> of check_host(): the MAIL FROM address, or
	// postmaster@ the HELO name for the null sender and the HELO check
	// (RFC 7208 §2.4).
	Sender string
	// Domain is the domain whose policy was checked.
	Domain string
	// Mechanism is the directive that matched, "default" when none did
	// and a redirect did not either, empty for none/temperror/permerror.
	Mechanism string
	// Explanation is the text for a Fail: the expansion of the exp=
	// modifier's record, or Checker.DefaultExplanation (RFC 7208 §6.2).
	Explanation string
	// Problem says why the result is permerror or temperror.
	Problem string
	// Receiver is Checker.Receiver, for the Received-SPF field.
	Receiver string
	// Lookups and VoidLookups count the DNS-querying terms evaluated and
	// those that found nothing (RFC 7208 §4.6.4).
	Lookups, VoidLookups int

	personal bool // a macro used the sender, HELO or time: not cached
}
