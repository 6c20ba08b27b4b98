package spf

import (
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/dns"
	"github.com/posthorn/posthorn/internal/dns/dnstest"
	"golang.org/x/net/dns/dnsmessage"
)

// TestRFC7208SuiteOverDNS runs the suite again with each scenario's zone
// served by a DNS server on 127.0.0.1 and the lookups made by posthorn's
// DNS client over UDP: the client's parsing, CNAME following, negative
// answers and time-outs meet every case the suite has.
func TestRFC7208SuiteOverDNS(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a DNS server per scenario")
	}
	raw, err := os.ReadFile("testdata/rfc7208-tests.json")
	if err != nil {
		t.Fatal(err)
	}
	var suite []suiteScenario
	if err := json.Unmarshal(raw, &suite); err != nil {
		t.Fatal(err)
	}
	passed, total := 0, 0
	for _, sc := range suite {
		srv := dnstest.NewServer(t)
		loadZone(t, srv, sc.Zones)
		client := &dns.Client{Servers: []netip.AddrPort{srv.Addr}, Timeout: 100 * time.Millisecond, Attempts: 1}
		names := make([]string, 0, len(sc.Tests))
		for n := range sc.Tests {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, name := range names {
			tc := sc.Tests[name]
			total++
			c := &Checker{Resolver: client, DefaultExplanation: "DEFAULT", Receiver: "receiver.test"}
			o := c.CheckMailFrom(context.Background(), netip.MustParseAddr(tc.Host), tc.Helo, tc.MailFrom)
			ok := slices.Contains(tc.Result, o.Result)
			if ok && tc.Explanation != nil {
				ok = o.Explanation == *tc.Explanation || (explanationFold[name] && strings.EqualFold(o.Explanation, *tc.Explanation))
			}
			if ok {
				passed++
				continue
			}
			t.Errorf("%s/%s: got %s (%s; explanation %q), want %v", sc.Description, name, o.Result, o.Problem, o.Explanation, tc.Result)
		}
	}
	t.Logf("RFC 7208 suite over DNS: %d of %d passed", passed, total)
}

// loadZone puts a scenario's zone data into the server the way the
// suite's harness reads it (see zoneResolver).
func loadZone(t *testing.T, srv *dnstest.Server, zones map[string][]suiteZoneItem) {
	for name, items := range zones {
		if _, err := dnsmessage.NewName(strings.TrimSuffix(name, ".") + "."); err != nil {
			t.Fatalf("zone name %q: %v", name, err)
		}
		srv.AddName(name)
		hasTXT := slices.ContainsFunc(items, func(i suiteZoneItem) bool { return i.Type == "TXT" })
		seen := map[string]bool{}
		for _, it := range items {
			typ := it.Type
			if typ == "SPF" {
				if hasTXT {
					continue
				}
				typ = "TXT"
			}
			if typ == "TIMEOUT" {
				// Time out every type without a record listed before.
				for _, qt := range []dnsmessage.Type{dnsmessage.TypeTXT, dnsmessage.TypeA, dnsmessage.TypeAAAA, dnsmessage.TypeMX, dnsmessage.TypePTR, dnsmessage.TypeCNAME} {
					if !seen[strings.TrimPrefix(qt.String(), "Type")] {
						srv.SilentFor(name, qt)
					}
				}
				continue
			}
			if string(it.Value) == "null" {
				continue // TXT: NONE, which a TIMEOUT after it still hits
			}
			seen[typ] = true
			switch typ {
			case "TXT":
				var strs []string
				json.Unmarshal(it.Value, &strs)
				if len(strs) == 0 {
					strs = []string{""}
				}
				srv.TXT(name, strs...)
			case "A", "AAAA":
				var s string
				json.Unmarshal(it.Value, &s)
				srv.A(name, s)
			case "MX":
				var mx []any
				json.Unmarshal(it.Value, &mx)
				srv.MX(name, uint16(mx[0].(float64)), mx[1].(string))
			case "PTR":
				var s string
				json.Unmarshal(it.Value, &s)
				srv.PTR(name, s)
			case "CNAME":
				var s string
				json.Unmarshal(it.Value, &s)
				srv.CNAME(name, s)
			default:
				t.Fatalf("record type %s", typ)
			}
		}
	}
}
