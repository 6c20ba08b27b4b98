package imapserver_test

import (
	"bytes"
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/posthorn/posthorn/imap/imapserver"
	"github.com/posthorn/posthorn/imap/imapserver/imapmem"
)

// fuzzConn feeds fixed input to the server and discards its output.
type fuzzConn struct {
	r      *bytes.Reader
	closed chan struct{}
	once   sync.Once
}

func (c *fuzzConn) Read(p []byte) (int, error) { return c.r.Read(p) }
func (c *fuzzConn) Write(p []byte) (int, error) {
	select {
	case <-c.closed:
		return 0, net.ErrClosed
	default:
		return len(p), nil
	}
}
func (c *fuzzConn) Close() error        { c.once.Do(func() { close(c.closed) }); return nil }
func (c *fuzzConn) LocalAddr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 143} }
func (c *fuzzConn) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
}
func (c *fuzzConn) SetDeadline(t time.Time) error      { return nil }
func (c *fuzzConn) SetReadDeadline(t time.Time) error  { return nil }
func (c *fuzzConn) SetWriteDeadline(t time.Time) error { return nil }

// oneConnListener hands out one connection, then blocks until closed.
type oneConnListener struct {
	c    chan net.Conn
	done chan struct{}
	once sync.Once
}

func (l *oneConnListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.c:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}
func (l *oneConnListener) Close() error   { l.once.Do(func() { close(l.done) }); return nil }
func (l *oneConnListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 143} }

// FuzzSession runs a whole session on arbitrary client bytes: the server
// must neither panic nor hang, whatever it is sent.
func FuzzSession(f *testing.F) {
	seeds := []string{
		"a LOGIN alice secret\r\nb SELECT INBOX\r\nc FETCH 1:* (FLAGS BODY[] BODYSTRUCTURE ENVELOPE BINARY[1] BODY[HEADER.FIELDS (Subject)]<0.3>)\r\nd LOGOUT\r\n",
		"a LOGIN alice secret\r\nb SELECT INBOX\r\nc STORE 1 +FLAGS (\\Deleted)\r\nd EXPUNGE\r\ne SEARCH OR FROM x NOT BODY y\r\nf UID SEARCH RETURN (MIN MAX SAVE) ALL\r\ng FETCH $ UID\r\n",
		"a LOGIN alice secret\r\nb APPEND INBOX (\\Seen) {5+}\r\nhello\r\nc LIST (SUBSCRIBED) \"\" * RETURN (STATUS (MESSAGES))\r\nd IDLE\r\nDONE\r\n",
		"a AUTHENTICATE PLAIN\r\nAGFsaWNlAHNlY3JldA==\r\nb ENABLE IMAP4rev2\r\nc CREATE \"x/&APw-\"\r\nd RENAME x y\r\ne MOVE 1 Trash\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"a LOGIN {5}\r\nalice {6+}\r\nsecret\r\nb STATUS INBOX (MESSAGES SIZE UIDNEXT)\r\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		store := imapmem.New()
		store.AddUser("alice", "secret")
		store.Deliver(context.Background(), "alice", strings.NewReader(msg1))
		store.Deliver(context.Background(), "alice", strings.NewReader(msg2))
		srv := &imapserver.Server{Backend: store, AllowInsecureAuth: true, Limits: imapserver.Limits{MaxAuthFailures: 1, MaxLineLength: 4096, MaxAppend: 1 << 16}}
		ln := &oneConnListener{c: make(chan net.Conn, 1), done: make(chan struct{})}
		c := &fuzzConn{r: bytes.NewReader(in), closed: make(chan struct{})}
		ln.c <- c
		go srv.Serve(ln)
		select {
		case <-c.closed:
		case <-time.After(10 * time.Second):
			t.Fatal("session did not end")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Fatal("shutdown:", err)
		}
	})
}
