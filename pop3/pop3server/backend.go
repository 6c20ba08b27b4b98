package pop3server

import (
	"context"
	"io"

	"github.com/posthorn/posthorn/internal/serve"
)

// Backend opens the maildrops of authenticated users. Authentication itself
// goes through the credential interfaces of package sasl
// (sasl.PasswordVerifier for USER/PASS and PLAIN/LOGIN, sasl.SecretLookup for
// APOP and CRAM-MD5, ...), implemented by Server.Auth.Credentials or, when
// that is nil, by the Backend itself.
//
// The interfaces use standard types only, so that one store can serve POP3
// next to IMAP and SMTP delivery with a few lines of adapter.
//
// Errors returned by a Backend or Maildrop are answered with -ERR; an error
// that is (or wraps) a *pop3.Error is sent with its response code and text,
// so a backend can refuse a login with [LOGIN-DELAY] or [SYS/PERM]. Other
// errors are answered "-ERR [SYS/TEMP]" and logged.
type Backend interface {
	// OpenMaildrop opens the maildrop of username, who has just been
	// authenticated, and takes the snapshot the session will work on
	// (RFC 1939 §4: the server acquires an exclusive-access lock on the
	// maildrop). The server already keeps other sessions of its own for
	// the same user out ([IN-USE]); a backend shared by several servers
	// or processes returns &pop3.Error{Code: pop3.CodeInUse} when the
	// maildrop is locked elsewhere.
	OpenMaildrop(ctx context.Context, username string, conn *ConnInfo) (Maildrop, error)
}

// Message describes one message of a maildrop snapshot.
type Message struct {
	// UID is the unique-id listing (RFC 1939 §7 UIDL): 1 to 70 characters
	// in the range 0x21 to 0x7E, unique in the maildrop and stable across
	// sessions.
	UID string
	// Size is the size in octets as sent by RETR, that is with CRLF line
	// ends and before dot-stuffing (RFC 1939 §5 "exact size").
	Size int64
	// UTF8 marks a message with non-ASCII header content (RFC 6532). It
	// is refused with -ERR [UTF8] unless the client enabled UTF8 mode
	// (RFC 6856 §2.1). An unmarked message is refused too when the server
	// finds such content in its first 16 KiB; marking it saves opening it.
	UTF8 bool
}

// Maildrop is one session's view of a user's maildrop. The server calls
// its methods from one goroutine.
type Maildrop interface {
	// Messages returns the snapshot taken at login. Message numbers are
	// the 1-based positions in the slice. It is called once.
	Messages(ctx context.Context) ([]Message, error)
	// Open returns the raw message with the given UID. A message that is
	// gone since the snapshot (expunged over IMAP, say) is reported with
	// an error wrapping fs.ErrNotExist. If the reader implements
	// io.Closer, the server closes it. The server reads messages
	// sequentially; an io.ReaderAt is not needed.
	Open(ctx context.Context, uid string) (io.Reader, error)
	// Delete removes the messages with the given UIDs. It is called only
	// in the UPDATE state, after QUIT (RFC 1939 §6), once, with every
	// message marked deleted, and must apply all or nothing. UIDs that are
	// gone already are ignored.
	Delete(ctx context.Context, uids []string) error
	// Close releases the maildrop. It is called exactly once, whether the
	// session ended with QUIT or dropped.
	Close() error
}

// ConnInfo describes the client connection of a session: addresses, TLS
// state, the identity that logged in (Identity.Mechanism is "USER",
// "APOP" or the SASL mechanism) and Service "pop3". It is the same type as
// smtpserver.ConnInfo and imapserver.ConnInfo.
type ConnInfo = serve.ConnInfo

// CommandInfo describes a command for Server.CommandFilter.
type CommandInfo struct {
	// Name is the command's name, upper case ("RETR").
	Name string
	// Username is the logged-in user, "" before login.
	Username string
	// Conn is the connection (nil fields before login).
	Conn *ConnInfo
}
