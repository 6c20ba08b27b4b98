package smtpserver_test

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/dns"
	"github.com/posthorn/posthorn/internal/dns/dnstest"
	"github.com/posthorn/posthorn/smtp"
	"github.com/posthorn/posthorn/smtp/smtpclient"
	"github.com/posthorn/posthorn/smtp/smtpserver"
	"github.com/posthorn/posthorn/smtp/spf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// heloMX is an MX with InboundAuth.CheckHelo over a zone where
// good.example lets 127.0.0.1 send and bad.example does not.
func heloMX(t *testing.T, reject bool) (string, *authStore, *dnstest.Server) {
	z := dnstest.NewServer(t)
	z.TXT("good.example", "v=spf1 ip4:127.0.0.1 -all")
	z.TXT("bad.example", "v=spf1 ip4:192.0.2.1 -all")
	z.TXT("sender.example", "v=spf1 ip4:127.0.0.1 -all")
	// No caches: the query counts are the evaluations.
	client := &dns.Client{Servers: []netip.AddrPort{z.Addr}, Timeout: time.Second, CacheSize: -1}
	st := &authStore{}
	b := smtpserver.NewStoreBackend(st, smtpserver.StoreOptions{Authenticate: &smtpserver.InboundAuth{
		AuthServID:    "mx.example.org",
		SPF:           &spf.Checker{Resolver: client, Receiver: "mx.example.org", CacheSize: -1},
		CheckHelo:     true,
		RejectSPFFail: reject,
	}})
	srv := &smtpserver.Server{Hostname: "mx.example.org", Backend: b}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	return ln.Addr().String(), st, z
}

func heloSend(t *testing.T, addr, helo string, froms ...string) error {
	ctx := context.Background()
	cl, err := smtpclient.Dial(ctx, addr, &smtpclient.Options{LocalName: helo})
	require.NoError(t, err)
	defer cl.Quit(ctx)
	msg := []byte("From: a@sender.example\r\n\r\nhi\r\n")
	for _, from := range froms {
		if _, err := cl.Send(ctx, &smtpclient.Envelope{From: from, To: []string{"user@example.org"}}, bytes.NewReader(msg), int64(len(msg))); err != nil {
			return err
		}
	}
	return nil
}

// RFC 7208 §2.3: the HELO identity is checked and recorded as smtp.helo
// next to the MAIL FROM result, once per session however many
// transactions it carries.
func TestInboundAuthHelo(t *testing.T) {
	addr, st, z := heloMX(t, false)
	require.NoError(t, heloSend(t, addr, "good.example", "a@sender.example", "b@sender.example"))
	msg, _ := st.last()
	assert.Contains(t, msg, "spf=pass smtp.mailfrom=b@sender.example")
	assert.Contains(t, msg, "spf=pass smtp.helo=good.example")
	assert.Equal(t, 1, z.Queries("good.example"), "one HELO check per session")

	// A failing HELO is recorded, not refused, without RejectSPFFail.
	require.NoError(t, heloSend(t, addr, "bad.example", "a@sender.example"))
	msg, _ = st.last()
	assert.Contains(t, msg, "spf=fail smtp.helo=bad.example")
	assert.Contains(t, msg, "spf=pass smtp.mailfrom=a@sender.example")
}

// RFC 7208 §2.4: for the null reverse-path the MAIL FROM identity is
// postmaster@ the HELO name; the HELO check serves for it.
func TestInboundAuthHeloNullSender(t *testing.T) {
	addr, st, z := heloMX(t, false)
	require.NoError(t, heloSend(t, addr, "good.example", ""))
	msg, _ := st.last()
	assert.Contains(t, msg, "spf=pass smtp.mailfrom=postmaster@good.example")
	assert.Contains(t, msg, "spf=pass smtp.helo=good.example")
	assert.Contains(t, msg, "Received-SPF: pass")
	assert.Equal(t, 1, z.Queries("good.example"), "one evaluation serves both identities")
}

// With RejectSPFFail a HELO fail is refused at MAIL, 550 5.7.23.
func TestInboundAuthHeloReject(t *testing.T) {
	addr, st, _ := heloMX(t, true)
	err := heloSend(t, addr, "bad.example", "a@sender.example")
	requireCode(t, err, 550, smtp.EnhancedCode{5, 7, 23})
	assert.Empty(t, st.msgs)
	require.NoError(t, heloSend(t, addr, "good.example", "a@sender.example"))
}
