package maildir

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/imap/imapserver"
	"github.com/posthorn/posthorn/internal/dns"
	"github.com/posthorn/posthorn/internal/dns/dnstest"
	"github.com/posthorn/posthorn/smtp/dmarc"
	"github.com/posthorn/posthorn/smtp/smtpclient"
	"github.com/posthorn/posthorn/smtp/smtpserver"
	"github.com/posthorn/posthorn/smtp/spf"
)

// TestQuarantineToJunk: with the SMTP server's DMARC checks on, a message
// whose author domain's policy says quarantine (smtpserver.InboundVerdict
// .Quarantine) is filed at commit into each recipient's \Junk mailbox,
// flagged $Junk, not into the INBOX; a recipient without one gets a
// Junk mailbox. A message that passes goes to the INBOX.
func TestQuarantineToJunk(t *testing.T) {
	ctx := context.Background()
	z := dnstest.NewServer(t)
	z.TXT("quarantined.example", "v=spf1 -all")
	z.TXT("_dmarc.quarantined.example", "v=DMARC1; p=quarantine")
	z.TXT("good.example", "v=spf1 ip4:127.0.0.1 -all")
	z.TXT("_dmarc.good.example", "v=DMARC1; p=quarantine")
	client := &dns.Client{Servers: []netip.AddrPort{z.Addr}, Timeout: 300 * time.Millisecond, Attempts: 1}

	s := openStore(t, t.TempDir(), nil)
	defer s.Close()
	if err := s.AddUser("bob", "pw"); err != nil {
		t.Fatal(err)
	}
	// alice files junk in "Spam" (renamed, with the attribute); bob has
	// none at all.
	ua, _ := s.User(ctx, "alice", nil)
	if err := ua.RenameMailbox(ctx, "Junk", "Spam"); err != nil {
		t.Fatal(err)
	}
	ub, _ := s.User(ctx, "bob", nil)
	if err := ub.DeleteMailbox(ctx, "Junk"); err != nil {
		t.Fatal(err)
	}

	srv := &smtpserver.Server{Hostname: "mx.example.org", Backend: smtpserver.NewStoreBackend(s, smtpserver.StoreOptions{
		Domains: []string{"example.org"},
		Authenticate: &smtpserver.InboundAuth{
			AuthServID: "mx.example.org",
			SPF:        &spf.Checker{Resolver: client, Receiver: "mx.example.org"},
			DMARC:      &dmarc.Evaluator{Resolver: client},
			ApplyDMARC: true,
		},
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	send := func(from, msg string) {
		t.Helper()
		cl, err := smtpclient.Dial(ctx, ln.Addr().String(), &smtpclient.Options{LocalName: "out.example"})
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Quit(ctx)
		if _, err := cl.Send(ctx, &smtpclient.Envelope{From: from, To: []string{"alice@example.org", "bob@example.org"}}, strings.NewReader(msg), int64(len(msg))); err != nil {
			t.Fatal(err)
		}
	}
	send("x@quarantined.example", "From: x@quarantined.example\r\nSubject: deals\r\n\r\nbuy\r\n")
	send("y@good.example", "From: y@good.example\r\nSubject: hello\r\n\r\nhi\r\n")

	check := func(u imapserver.User, who, mailbox, wantSubject string, wantJunk bool) {
		t.Helper()
		mb, err := u.OpenMailbox(ctx, mailbox, true)
		if err != nil {
			t.Fatalf("%s %s: %v", who, mailbox, err)
		}
		defer mb.Close()
		ms := messages(t, mb)
		if len(ms) != 1 {
			t.Fatalf("%s %s holds %d messages, want 1", who, mailbox, len(ms))
		}
		if b := readAll(t, ms[0]); !strings.Contains(b, "Subject: "+wantSubject+"\r\n") {
			t.Errorf("%s %s: %q", who, mailbox, b)
		}
		if got := slices.Contains(ms[0].Flags(), "$Junk"); got != wantJunk {
			t.Errorf("%s %s: flags %v", who, mailbox, ms[0].Flags())
		}
	}
	check(ua, "alice", "INBOX", "hello", false)
	check(ua, "alice", "Spam", "deals", true)
	check(ub, "bob", "INBOX", "hello", false)
	check(ub, "bob", "Junk", "deals", true)
	infos, _ := ub.ListMailboxes(ctx)
	for _, info := range infos {
		if info.Name == "Junk" && !slices.Contains(info.SpecialUse, `\Junk`) {
			t.Errorf("bob's new Junk: %v", info.SpecialUse)
		}
	}
}
