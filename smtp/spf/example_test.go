package spf_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/posthorn/posthorn/smtp/spf"
)

// records is a stand-in DNS for the examples; in a server leave
// Checker.Resolver nil to use the system's resolvers through posthorn's
// caching client.
type records map[string][]string

func (r records) LookupTXT(ctx context.Context, name string) ([]string, error) {
	if txt, ok := r[name]; ok {
		return txt, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}
func (r records) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}
func (r records) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}
func (r records) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	return nil, &net.DNSError{Err: "no such host", Name: addr, IsNotFound: true}
}

// An MX checks the MAIL FROM identity of an inbound message and prepends
// the Received-SPF field.
func ExampleChecker_CheckMailFrom() {
	checker := &spf.Checker{
		Resolver: records{"example.com": {"v=spf1 ip4:192.0.2.0/24 -all"}},
		Receiver: "mx.example.org",
	}
	client := netip.MustParseAddr("198.51.100.7")
	o := checker.CheckMailFrom(context.Background(), client, "mail.example.com", "alice@example.com")
	fmt.Println(o.Result, o.Mechanism)
	fmt.Print(strings.ReplaceAll(o.ReceivedSPF(), "\r\n", "\n"))
	// Output:
	// fail -all
	// Received-SPF: fail (mx.example.org: domain of alice@example.com does not designate 198.51.100.7 as permitted sender)
	//	receiver=mx.example.org;
	//	client-ip=198.51.100.7;
	//	envelope-from="alice@example.com";
	//	helo=mail.example.com;
	//	identity=mailfrom;
	//	mechanism=-all;
}

// Publishing a record: build it, check it parses, and put the text in a
// TXT record at the domain.
func ExampleRecord_String() {
	rec := &spf.Record{Directives: []spf.Directive{
		{Mechanism: spf.MechMX},
		{Mechanism: spf.MechIP4, Net: netip.MustParsePrefix("192.0.2.0/24")},
		{Mechanism: spf.MechInclude, Domain: "_spf.mailer.example"},
		{Qualifier: spf.QualFail, Mechanism: spf.MechAll},
	}}
	txt := rec.String()
	if _, err := spf.ParseRecord(txt); err != nil {
		fmt.Println(err)
	}
	fmt.Printf("example.com. IN TXT %q\n", txt)
	// Output: example.com. IN TXT "v=spf1 mx ip4:192.0.2.0/24 include:_spf.mailer.example -all"
}
