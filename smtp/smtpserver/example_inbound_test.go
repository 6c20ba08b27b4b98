package smtpserver_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"log"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/posthorn/posthorn/imap/imapserver/imapmem"
	"github.com/posthorn/posthorn/smtp/dkim"
	"github.com/posthorn/posthorn/smtp/dmarc"
	"github.com/posthorn/posthorn/smtp/smtpclient"
	"github.com/posthorn/posthorn/smtp/smtpserver"
	"github.com/posthorn/posthorn/smtp/spf"
)

// zone is a fixed DNS for the example; a real MX uses posthorn's caching
// DNS client or a *net.Resolver.
type zone map[string][]string

func (z zone) LookupTXT(ctx context.Context, name string) ([]string, error) {
	if txt, ok := z[strings.TrimSuffix(name, ".")]; ok {
		return txt, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

func (z zone) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

func (z zone) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

func (z zone) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	return nil, &net.DNSError{Err: "no such host", Name: addr, IsNotFound: true}
}

// An MX that checks what it receives: SPF at MAIL FROM, DKIM while the
// message streams into the store, DMARC at its end, with the results in
// an Authentication-Results field on top of the stored message. A
// message whose author domain publishes p=reject and that fails DMARC is
// refused after DATA.
func ExampleInboundAuth() {
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, 32))
	rec, _ := dkim.KeyRecordFor(key.Public())
	dns := zone{
		"shop.example":               {"v=spf1 ip4:127.0.0.1 -all"},
		"s1._domainkey.shop.example": {rec},
		"_dmarc.shop.example":        {"v=DMARC1; p=reject"},
		"bank.example":               {"v=spf1 ip4:192.0.2.1 ~all"},
		"_dmarc.bank.example":        {"v=DMARC1; p=reject"},
	}

	store := imapmem.New()
	store.AddUser("alice", "secret")
	srv := &smtpserver.Server{
		Hostname: "mx.example.org",
		Backend: smtpserver.NewStoreBackend(store, smtpserver.StoreOptions{
			Domains: []string{"example.org"},
			Authenticate: &smtpserver.InboundAuth{
				AuthServID:    "mx.example.org",
				SPF:           &spf.Checker{Resolver: dns, Receiver: "mx.example.org"},
				DKIM:          &dkim.VerifyOptions{Resolver: dns},
				DMARC:         &dmarc.Evaluator{Resolver: dns},
				ApplyDMARC:    true, // p=reject refused, p=quarantine: InboundVerdict
				NoReceivedSPF: true,
			},
		}),
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Shutdown(context.Background())

	ctx := context.Background()
	send := func(from string, msg []byte) error {
		c, err := smtpclient.Dial(ctx, ln.Addr().String(), &smtpclient.Options{LocalName: "out.shop.example"})
		if err != nil {
			return err
		}
		defer c.Quit(ctx)
		_, err = c.Send(ctx, &smtpclient.Envelope{From: from, To: []string{"alice@example.org"}}, bytes.NewReader(msg), int64(len(msg)))
		return err
	}

	// A receipt signed by shop.example and sent from its server.
	var signed bytes.Buffer
	dkim.Sign(&signed, strings.NewReader("From: orders@shop.example\r\nTo: alice@example.org\r\nSubject: Your receipt\r\n\r\nThanks!\r\n"),
		&dkim.SignOptions{Domain: "shop.example", Selector: "s1", Key: key, Now: func() time.Time { return time.Unix(1796601600, 0) }})
	fmt.Println("receipt:", send("bounces@shop.example", signed.Bytes()))
	// A forgery in the name of bank.example.
	fmt.Println("forgery:", send("ceo@bank.example", []byte("From: ceo@bank.example\r\nSubject: Urgent\r\n\r\nPay now.\r\n")))

	uidls, _, unlock, _ := store.LockMaildrop(ctx, "alice")
	defer unlock()
	r, _ := store.OpenMaildropMessage(ctx, "alice", uidls[0])
	b, _ := io.ReadAll(r)
	head, _, _ := strings.Cut(string(b), "\r\nReceived: ")
	fmt.Println(strings.ReplaceAll(head, "\r\n", "\n"))
	// Output:
	// receipt: <nil>
	// forgery: smtp: 550 5.7.1 Rejected by the DMARC policy of bank.example
	// Authentication-Results: mx.example.org;
	//	spf=pass smtp.mailfrom=bounces@shop.example;
	//	dkim=pass header.d=shop.example header.i=@shop.example header.s=s1 header.a=ed25519-sha256 header.b=UujkNzrPjbEb;
	//	dmarc=pass header.from=shop.example policy.dmarc=reject
}
