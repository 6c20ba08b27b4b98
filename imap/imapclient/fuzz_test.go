package imapclient

import (
	"bytes"
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/posthorn/posthorn/imap"
)

// feedConn is a net.Conn that answers a greeting, then, once the client
// has written its first command, the fuzz input, then EOF.
type feedConn struct {
	mu      sync.Mutex
	greet   *bytes.Reader
	data    *bytes.Reader
	wrote   chan struct{}
	once    sync.Once
	closed  chan struct{}
	closeMu sync.Once
}

func newFeedConn(data []byte) *feedConn {
	return &feedConn{
		greet:  bytes.NewReader([]byte("* OK [CAPABILITY IMAP4rev1 LITERAL+] fuzz\r\n")),
		data:   bytes.NewReader(data),
		wrote:  make(chan struct{}),
		closed: make(chan struct{}),
	}
}

func (f *feedConn) Read(p []byte) (int, error) {
	f.mu.Lock()
	if f.greet.Len() > 0 {
		defer f.mu.Unlock()
		return f.greet.Read(p)
	}
	f.mu.Unlock()
	select {
	case <-f.wrote:
	case <-f.closed:
		return 0, net.ErrClosed
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.data.Read(p)
}

func (f *feedConn) Write(p []byte) (int, error) {
	f.once.Do(func() { close(f.wrote) })
	return len(p), nil
}

func (f *feedConn) Close() error {
	f.closeMu.Do(func() { close(f.closed) })
	return nil
}
func (f *feedConn) LocalAddr() net.Addr                { return &net.TCPAddr{} }
func (f *feedConn) RemoteAddr() net.Addr               { return &net.TCPAddr{} }
func (f *feedConn) SetDeadline(t time.Time) error      { return nil }
func (f *feedConn) SetReadDeadline(t time.Time) error  { return nil }
func (f *feedConn) SetWriteDeadline(t time.Time) error { return nil }

// FuzzResponses feeds arbitrary server responses to a client running a
// streaming FETCH: the parser must neither panic nor hang, and must stay
// within its limits.
func FuzzResponses(f *testing.F) {
	seeds := []string{
		"* 1 FETCH (UID 7 FLAGS (\\Seen) BODY[] {5}\r\nhello)\r\nT1 OK done\r\n",
		"* 1 FETCH (ENVELOPE (\"Mon, 2 Jan 2006\" \"subj\" ((\"A\" NIL \"a\" \"b.org\")) NIL NIL NIL NIL NIL NIL \"<id@x>\"))\r\nT1 OK\r\n",
		"* 1 FETCH (BODYSTRUCTURE ((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"UTF-8\") NIL NIL \"7BIT\" 5 1)(\"TEXT\" \"HTML\" NIL NIL NIL \"QUOTED-PRINTABLE\" 9 1) \"ALTERNATIVE\"))\r\nT1 OK\r\n",
		"* 2 FETCH (BODY[HEADER.FIELDS (From To)]<0> {4}\r\nab\r\n BINARY[1] ~{3}\r\n\x00\x01\x02 BINARY.SIZE[1] 3 MODSEQ (12345))\r\nT1 OK\r\n",
		"* 1 FETCH (X-GM-LABELS (\"\\\\Inbox\" foo) X-GM-MSGID 123 RFC822.SIZE 44 INTERNALDATE \"17-Jul-1996 02:44:25 -0700\")\r\nT1 NO [ALERT] x\r\n",
		"* 3 EXISTS\r\n* 1 EXPUNGE\r\n* VANISHED (EARLIER) 1:5,7\r\n* OK [UIDNEXT 5] x\r\n* FLAGS (\\Seen)\r\n+ cont\r\nT1 BAD [PARSE] no\r\n",
		"* LIST (\\HasNoChildren) \"/\" INBOX (CHILDINFO (\"SUBSCRIBED\"))\r\n* STATUS INBOX (MESSAGES 3 APPENDLIMIT NIL)\r\n* ESEARCH (TAG \"T1\") UID ALL 1:3 COUNT 3\r\n* SEARCH 1 2 (MODSEQ 5)\r\nT1 OK\r\n",
		"* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n* ID (\"name\" \"x\")\r\n* BYE bye\r\n",
		"* 1 FETCH (BODY[] {99999999999}\r\n",
		"* 1 FETCH (((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((x)))\r\n",
		// The consumer parses on after a section (FetchCommand.owned).
		"* 1 FETCH (BODY[] {3}\r\none)\r\n* 2 FETCH (BODY[] {3}\r\ntwo FLAGS (\\Seen ))\r\n* 5 EXISTS\r\n* 3 fetch (uid 3 BODY[TEXT] NIL BODY[HEADER] \"h\")\r\nT1 OK\r\n",
		// Garbled untagged responses are skipped to their end.
		"* 1 FETCH (UID 1 ENVELOPE (\"d\" {3}\r\nab\r\n) garbage {2}\r\nxy\r\n)\r\n* XDATA ((((((((((((((((((1))))))))))))))))))\r\n* 2 FETCH (UID 2)\r\nT1 OK\r\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		h := &Handler{
			Exists: func(uint32) {}, Expunge: func(uint32) {}, Vanished: func(imap.UIDSet, bool) {},
			Fetch: func(*FetchMessageBuffer) {}, Alert: func(string) {}, Bye: func(*imap.Error) {},
		}
		c, err := NewClient(ctx, newFeedConn(data), &Options{Handler: h, Limits: Limits{MaxLine: 4096, MaxString: 4096, MaxSection: 1 << 16, MaxDepth: 16}})
		if err != nil {
			return
		}
		defer c.Close()
		fc := c.Fetch(ctx, imap.NumSetOf(1), []imap.FetchAtt{{Item: imap.FetchUID}}, nil)
		// The consumer reads every literal, half of each, or stops
		// after the first message, depending on the input.
		mode := len(data) % 3
		for m := fc.Next(); m != nil; m = fc.Next() {
			for it := m.Next(); it != nil; it = m.Next() {
				if s, ok := it.(FetchItemBodySection); ok {
					if mode == 1 {
						io.CopyN(io.Discard, s.Literal, s.Size/2)
					} else {
						io.Copy(io.Discard, s.Literal)
					}
				}
			}
			if mode == 2 {
				break
			}
		}
		fc.Close()
		if ctx.Err() != nil {
			t.Fatal("client hung")
		}
	})
}
