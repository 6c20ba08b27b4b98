package maildir

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/posthorn/posthorn/imap/imapserver"
	"github.com/posthorn/posthorn/internal/testpeer"
)

// line is a minimal line-based client for talking to Dovecot.
type line struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dialLine(t *testing.T, addr string) *line {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	l := &line{t: t, c: c, br: bufio.NewReader(c)}
	l.read()
	return l
}

func (l *line) read() string {
	l.t.Helper()
	s, err := l.br.ReadString('\n')
	if err != nil {
		l.t.Fatalf("read: %v", err)
	}
	return strings.TrimRight(s, "\r\n")
}

func (l *line) send(s string) { fmt.Fprintf(l.c, "%s\r\n", s) }

// imap sends a command and returns the untagged lines; it fails unless OK.
func (l *line) imap(tag, cmd string) []string {
	l.t.Helper()
	l.send(tag + " " + cmd)
	var out []string
	for {
		s := l.read()
		if strings.HasPrefix(s, tag+" ") {
			if !strings.HasPrefix(s, tag+" OK") {
				l.t.Fatalf("%s: %s", cmd, s)
			}
			return out
		}
		out = append(out, s)
	}
}

var reFetch = regexp.MustCompile(`UID (\d+) FLAGS \(([^)]*)\)`)

// dovecotFlags returns UID -> sorted flags (without \Recent) from Dovecot.
func dovecotFlags(t *testing.T, addr string) (map[uint32]string, string) {
	l := dialLine(t, addr)
	l.imap("a", "LOGIN alice alicepw")
	var validity string
	for _, s := range l.imap("b", "SELECT INBOX") {
		if i := strings.Index(s, "[UIDVALIDITY "); i >= 0 {
			validity = strings.Fields(s[i+13:])[0]
			validity = strings.TrimSuffix(validity, "]")
		}
	}
	out := map[uint32]string{}
	for _, s := range l.imap("c", "UID FETCH 1:* (UID FLAGS)") {
		if m := reFetch.FindStringSubmatch(s); m != nil {
			var uid uint32
			fmt.Sscan(m[1], &uid)
			out[uid] = normFlagList(strings.Fields(m[2]))
		}
	}
	l.imap("d", "LOGOUT")
	return out, validity
}

func normFlagList(f []string) string {
	f = slices.DeleteFunc(slices.Clone(f), func(x string) bool { return strings.EqualFold(x, `\Recent`) })
	slices.Sort(f)
	return strings.Join(f, " ")
}

// TestDovecotCompat: mail Dovecot delivered and flagged is served by us
// with Dovecot's UIDVALIDITY, UIDs and flags (keywords through
// dovecot-keywords); mail we delivered and flagged is served by Dovecot
// the same way.
func TestDovecotCompat(t *testing.T) {
	d := testpeer.StartDovecot(t, testpeer.DovecotOptions{})
	ctx := context.Background()

	// Dovecot delivers two messages over LMTP and flags one over IMAP.
	lm := dialLine(t, d.LMTP)
	for i := 1; i <= 2; i++ {
		for _, c := range []string{"LHLO test", "MAIL FROM:<bob@example.org>", "RCPT TO:<alice@localhost>", "DATA"} {
			lm.send(c)
			for {
				s := lm.read()
				if len(s) < 4 || s[3] != '-' {
					if s[0] != '2' && s[0] != '3' {
						t.Fatalf("LMTP %s: %s", c, s)
					}
					break
				}
			}
		}
		lm.send(fmt.Sprintf("Subject: from dovecot %d\r\n\r\nbody %d\r\n.", i, i))
		if s := lm.read(); s[0] != '2' {
			t.Fatalf("LMTP DATA: %s", s)
		}
	}
	im := dialLine(t, d.IMAP)
	im.imap("a", "LOGIN alice alicepw")
	im.imap("b", "SELECT INBOX")
	im.imap("c", `UID STORE 1 +FLAGS (\Seen \Answered $Label1)`)
	im.imap("d", "LOGOUT")
	want, validity := dovecotFlags(t, d.IMAP)
	if len(want) != 2 {
		t.Fatalf("Dovecot holds %v", want)
	}

	// We open the same Maildir.
	root := t.TempDir()
	maildir := filepath.Join(d.Dir, "mail", "alice", "Maildir")
	if err := os.Symlink(maildir, filepath.Join(root, "alice")); err != nil {
		t.Fatal(err)
	}
	s := openStore(t, root, nil)
	mb := mustOpen(t, s, "INBOX")
	snap := mb.Snapshot()
	if fmt.Sprint(snap.UIDValidity) != validity {
		t.Errorf("UIDVALIDITY %d, Dovecot's %s", snap.UIDValidity, validity)
	}
	got := map[uint32]string{}
	for _, m := range messages(t, mb) {
		got[m.UID()] = normFlagList(m.Flags())
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("we see %v, Dovecot %v", got, want)
	}
	if body := readAll(t, messages(t, mb)[1]); !strings.Contains(body, "Subject: from dovecot 2\r\n") || !strings.HasSuffix(body, "body 2\r\n") {
		t.Errorf("message 2 as we serve it: %q", body)
	}

	// We deliver one and flag Dovecot's second, then close (uidlist).
	uid, err := s.Deliver(ctx, "alice", strings.NewReader("Subject: from posthorn\r\n\r\nhello\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mb.SetFlags(ctx, []uint32{2}, imapserver.FlagsAdd, []string{`\Flagged`, "$Label2"}, 0); err != nil {
		t.Fatal(err)
	}
	mb.Close()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Dovecot's mail processes may run as another user.
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(d.Dir, "mail"), &st); err == nil {
		filepath.Walk(maildir, func(p string, _ os.FileInfo, _ error) error {
			os.Lchown(p, int(st.Uid), int(st.Gid))
			return nil
		})
	}
	after, validity2 := dovecotFlags(t, d.IMAP)
	if validity2 != validity {
		t.Errorf("Dovecot's UIDVALIDITY changed: %s -> %s", validity, validity2)
	}
	want[2] = normFlagList([]string{`\Flagged`, "$Label2"})
	want[uid] = ""
	if fmt.Sprint(after) != fmt.Sprint(want) {
		t.Errorf("Dovecot now serves %v, want %v", after, want)
	}
}
