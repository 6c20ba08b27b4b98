package pop3fake

import (
	"net"
	"testing"

	"github.com/posthorn/posthorn/internal/wiretest"
)

// Conn is a raw client connection for wire-level tests: the transcript
// runner shared with the SMTP and IMAP server tests.
type Conn = wiretest.Conn

// Dial opens a raw connection to addr.
func Dial(t testing.TB, addr string) *Conn { return wiretest.Dial(t, addr) }

// Wrap makes a Conn of an established connection (a *tls.Conn, say).
func Wrap(t testing.TB, nc net.Conn) *Conn { return wiretest.Wrap(t, nc) }
