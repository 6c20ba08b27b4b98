// Command imapmirror mirrors one IMAP mailbox into a local Maildir,
// incrementally: the first run downloads every message, later runs only
// what changed (new messages, flag changes, expunged messages), using
// QRESYNC (RFC 7162) when the server offers it, CONDSTORE next, and a
// UID FETCH of flags otherwise.
//
// Usage:
//
//	IMAPMIRROR_PASSWORD=secret imapmirror -addr imap.example.org:993 -user me -mailbox INBOX -maildir ~/Mirror
//
// The Maildir gets tmp/, new/ and cur/ directories; each message is one
// file in cur/ holding the octets the server sent, named
// "unique:2,FLAGS" with the system flags as Maildir letters (D draft,
// F flagged, P forwarded, R answered, S seen, T deleted). Keywords are not
// mirrored. The state of the mirror (UIDVALIDITY, HIGHESTMODSEQ and which
// file holds which UID) is kept in .imapmirror.json beside them. When the
// mailbox's UIDVALIDITY changes the mirror starts over. Files in the
// Maildir that the state does not name are removed: the directory belongs
// to the mirror.
//
// -tls picks the transport: "tls" (implicit TLS, port 993, the default),
// "starttls" (port 143) or "none" (only for loopback tests).
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"time"

	"github.com/posthorn/posthorn/imap/imapclient"
)

func main() {
	addr := flag.String("addr", "", "server address host:port")
	user := flag.String("user", "", "user name")
	passEnv := flag.String("password-env", "IMAPMIRROR_PASSWORD", "environment variable holding the password")
	mode := flag.String("tls", "tls", `transport: "tls", "starttls" or "none"`)
	mailbox := flag.String("mailbox", "INBOX", "mailbox to mirror")
	dir := flag.String("maildir", "", "Maildir directory to write")
	timeout := flag.Duration("timeout", 30*time.Minute, "give up after this long")
	flag.Parse()
	if *addr == "" || *user == "" || *dir == "" {
		flag.Usage()
		os.Exit(2)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	s, err := run(ctx, *addr, *mode, *user, os.Getenv(*passEnv), *mailbox, *dir, log)
	if err != nil {
		log.Error("mirror failed", "err", err)
		os.Exit(1)
	}
	fmt.Println(s)
}

// run connects, logs in, mirrors and logs out.
func run(ctx context.Context, addr, mode, user, pass, mailbox, dir string, log *slog.Logger) (stats, error) {
	dial := imapclient.DialTLS
	switch mode {
	case "starttls":
		dial = imapclient.DialStartTLS
	case "none":
		dial = imapclient.Dial
	case "tls":
	default:
		return stats{}, fmt.Errorf("imapmirror: unknown -tls mode %q", mode)
	}
	// -tls none is the caller's explicit choice of a connection without
	// TLS, so the password may cross it (AllowInsecureAuth).
	c, err := dial(ctx, addr, &imapclient.Options{Logger: log, AllowInsecureAuth: mode == "none"})
	if err != nil {
		return stats{}, err
	}
	defer c.Close()
	if err := c.Login(ctx, user, pass); err != nil {
		return stats{}, err
	}
	s, err := mirror(ctx, c, mailbox, dir, log)
	if err != nil {
		return s, err
	}
	c.Logout(ctx)
	return s, nil
}
