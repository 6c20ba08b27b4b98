package maildir

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/imap"
	"github.com/posthorn/posthorn/imap/imapserver"
)

// escapeNames are mailbox names with what Maildir++ cannot hold as it is:
// "." (its separator), "~" at the start of a level, "\" (listescape's
// escape character), "&" (modified UTF-7's), non-ASCII, and levels
// separated by IMAP's "/".
var escapeNames = []string{
	"Dots.in.name",
	"~tilde/and~inner",
	"Amp & Co",
	"Grüße/Ünter.ordner",
	"日本語.メール",
	`back\slash`,
	"x&y.z~/.lead",
}

// imapQuote writes a mailbox name as an IMAP quoted string, in modified
// UTF-7.
func imapQuote(name string) string {
	enc := imap.EncodeMailboxName(name)
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(enc) + `"`
}

// dovecotList returns the names Dovecot's LIST "" "*" gives, decoded.
func dovecotList(t *testing.T, l *line) []string {
	var out []string
	for _, s := range l.imap("L", `LIST "" "*"`) {
		_, rest, ok := strings.Cut(s, `) "/" `)
		if !ok {
			continue
		}
		if strings.HasPrefix(rest, `"`) {
			u, err := strconv.Unquote(rest) // IMAP quoted: only \\ and \"
			if err != nil {
				t.Fatalf("LIST line %q: %v", s, err)
			}
			rest = u
		}
		n, err := imap.DecodeMailboxName(rest)
		if err != nil {
			t.Fatalf("LIST line %q: %v", s, err)
		}
		out = append(out, n)
	}
	return out
}

// TestListescapeDovecot: a mailbox we create whose name holds ".", "~",
// "\", "&", non-ASCII and several levels is the mailbox of the same IMAP
// name to a Dovecot with the listescape plugin and "/" as separator (the
// configuration the issue names), with its messages; one Dovecot creates
// is the same name to us.
func TestListescapeDovecot(t *testing.T) {
	d := compatDovecot(t)
	ctx := context.Background()

	// Dovecot creates its set first, one message in each.
	l := dialLine(t, d.IMAP)
	l.imap("a", "LOGIN alice alicepw")
	var theirs []string
	for i, n := range escapeNames {
		n += " dv"
		theirs = append(theirs, n)
		l.imap(fmt.Sprint("c", i), "CREATE "+imapQuote(n))
		msg := fmt.Sprintf("Subject: in %s\r\n\r\nhi\r\n", imap.EncodeMailboxName(n))
		l.send(fmt.Sprintf("p%d APPEND %s {%d+}\r\n%s", i, imapQuote(n), len(msg), msg))
		if s := l.read(); !strings.HasPrefix(s, fmt.Sprint("p", i, " OK")) {
			t.Fatalf("APPEND to %q: %s", n, s)
		}
	}

	s, maildir := sharedTree(t, d, nil)
	u, err := s.User(ctx, "alice", nil)
	if err != nil {
		t.Fatal(err)
	}
	infos, err := u.ListMailboxes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ours []string
	for _, info := range infos {
		ours = append(ours, info.Name)
	}
	for _, n := range theirs {
		if !slices.Contains(ours, n) {
			t.Errorf("Dovecot's %q is not among our mailboxes %q", n, ours)
			continue
		}
		st, err := u.Status(ctx, n)
		if err != nil || st.Messages != 1 {
			t.Errorf("our STATUS of Dovecot's %q: %+v %v", n, st, err)
		}
	}

	// We create ours, one message in each; Dovecot lists them.
	for _, n := range escapeNames {
		if err := u.CreateMailbox(ctx, n, imapserver.CreateOptions{}); err != nil {
			t.Fatalf("create %q: %v", n, err)
		}
		if _, err := s.DeliverTo(ctx, "alice", n, strings.NewReader("Subject: ours\r\n\r\nhi\r\n"), nil, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	giveToDovecot(t, d, maildir)
	l.imap("z", "LOGOUT")
	l = dialLine(t, d.IMAP)
	l.imap("a", "LOGIN alice alicepw")
	listed := dovecotList(t, l)
	for i, n := range escapeNames {
		if !slices.Contains(listed, n) {
			t.Errorf("our %q is not in Dovecot's LIST %q", n, listed)
			continue
		}
		for _, line := range l.imap(fmt.Sprint("s", i), "STATUS "+imapQuote(n)+" (MESSAGES)") {
			if !strings.HasSuffix(line, "(MESSAGES 1)") {
				t.Errorf("Dovecot's STATUS of our %q: %s", n, line)
			}
		}
	}
	// And no name that neither side made (a wrong unescaping).
	for _, n := range listed {
		top, _, _ := strings.Cut(n, "/")
		known := slices.ContainsFunc(append(slices.Clone(escapeNames), theirs...), func(x string) bool {
			return x == n || strings.HasPrefix(x, n+"/") || strings.HasPrefix(x, top)
		})
		if !known && !slices.Contains([]string{"INBOX", "Drafts", "Sent", "Trash", "Junk", "Archive"}, n) {
			t.Errorf("Dovecot lists %q, which nobody created", n)
		}
	}
}
