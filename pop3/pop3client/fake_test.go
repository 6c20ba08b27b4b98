package pop3client_test

import (
	"context"
	"io"
	"net"
	"testing"

	"github.com/posthorn/posthorn/pop3/internal/pop3fake"
	"github.com/posthorn/posthorn/pop3/pop3client"
)

// fakeServer answers each expected command line with a canned reply, then
// closes. It returns the address.
func fakeServer(t *testing.T, greeting string, exchange [][2]string) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		nc, err := l.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		c := pop3fake.Wrap(t, nc)
		c.Send(greeting)
		for _, pair := range exchange {
			if got := c.ReadLine(); got != pair[0] {
				c.Send("-ERR unexpected " + got + "\r\n")
				return
			}
			c.Send(pair[1])
		}
	}()
	return l.Addr().String()
}

// RFC 2595 §4 / CVE-2011-0411, client side: bytes the server sends after
// "+OK" to STLS, before the handshake, are an injection; the client gives up.
func TestStartTLSRefusesInjectedReply(t *testing.T) {
	addr := fakeServer(t, "+OK hi\r\n", [][2]string{{"STLS", "+OK begin\r\n+OK injected\r\n"}})
	ctx := ctxT(t)
	c, err := pop3client.Dial(ctx, addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.StartTLS(ctx, nil); err == nil {
		t.Fatal("StartTLS accepted injected plaintext")
	}
	if err := c.Noop(ctx); err == nil {
		t.Fatal("client still usable after a failed STLS")
	}
}

// A connection that dies in the middle of Download returns the error and
// the report of what was done; nothing is marked deleted.
func TestDownloadConnectionLost(t *testing.T) {
	addr := fakeServer(t, "+OK hi\r\n", [][2]string{
		{"UIDL", "+OK\r\n1 a\r\n2 b\r\n.\r\n"},
		{"RETR 1", "+OK\r\nSubject: a\r\n\r\nx\r\n.\r\n"},
		{"RETR 2", "+OK\r\nSubject: b\r\n\r\ntrunc"},
	})
	ctx := ctxT(t)
	c, err := pop3client.Dial(ctx, addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var saved []string
	rep, err := c.Download(ctx, pop3client.DownloadOptions{
		DeleteAfterSave: true,
		Save: func(ctx context.Context, uid string, r io.Reader) error {
			_, err := io.ReadAll(r)
			if err == nil {
				saved = append(saved, uid)
			}
			return err
		},
	})
	if err == nil {
		t.Fatal("Download succeeded on a dropped connection")
	}
	if len(rep.Downloaded) != 1 || rep.Downloaded[0] != "a" || len(rep.Deleted) != 0 {
		t.Fatalf("report %+v", rep)
	}
	if len(saved) != 1 {
		t.Fatalf("saved %v", saved)
	}
}
