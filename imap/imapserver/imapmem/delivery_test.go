package imapmem

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"net"
	"strings"
	"syscall"
	"testing"
	"testing/iotest"
)

// DeliverMessage: the header supplied at commit comes first, each
// recipient's result is its own and classified by standard errors, and a
// failing body delivers nothing.
func TestDeliverMessage(t *testing.T) {
	ctx := context.Background()
	s := New()
	for _, u := range []string{"alice", "bob", "carol"} {
		if err := s.AddUser(u, "pw"); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SetQuota("carol", 10, 0); err != nil {
		t.Fatal(err)
	}
	read := false
	body := &eofWatcher{r: strings.NewReader("Subject: hi\n\nbody\r\n"), eof: &read}
	res, err := s.DeliverMessage(ctx, []string{"alice", "nobody", "carol", "bob"}, body, func() []byte {
		if !read {
			t.Error("header called before the body was read to io.EOF")
		}
		return []byte("Received: by test\r\n")
	})
	if err != nil {
		t.Fatal(err)
	}
	if res[0] != nil || res[3] != nil {
		t.Errorf("alice, bob: %v, %v", res[0], res[3])
	}
	if !errors.Is(res[1], fs.ErrNotExist) || !errors.Is(res[1], ErrNoSuchUser) {
		t.Errorf("nobody: %v", res[1])
	}
	if !errors.Is(res[2], syscall.EDQUOT) {
		t.Errorf("carol: %v", res[2])
	}
	// Not a syscall.Errno inside: that would be a net.Error to errors.As,
	// and the IMAP server took it for a broken connection.
	var ne net.Error
	if errors.As(res[2], &ne) || errors.As(res[1], &ne) || errors.As(ErrMaildropLocked, &ne) {
		t.Error("a store error is a net.Error")
	}
	want := "Received: by test\r\nSubject: hi\r\n\r\nbody\r\n"
	for _, u := range []string{"alice", "bob"} {
		if got := inbox(t, s, u); len(got) != 1 || got[0] != want {
			t.Errorf("%s: %q", u, got)
		}
	}
	// All recipients share one copy.
	a, b := s.users["alice"].mailboxes["INBOX"].msgs[0].c, s.users["bob"].mailboxes["INBOX"].msgs[0].c
	if a != b {
		t.Error("each recipient got its own copy")
	}

	// A body that fails after 100 KiB (past the in-memory spool): nothing.
	big := io.MultiReader(bytes.NewReader(bytes.Repeat([]byte("x\r\n"), 40000)), iotest.ErrReader(errors.New("client gone")))
	if _, err := s.DeliverMessage(ctx, []string{"alice"}, big, nil); err == nil || !strings.Contains(err.Error(), "client gone") {
		t.Fatalf("failing body: %v", err)
	}
	if got := inbox(t, s, "alice"); len(got) != 1 {
		t.Errorf("alice has %d messages after a failed delivery", len(got))
	}

	// A large body (spooled to a file) arrives intact, header first.
	large := strings.Repeat("0123456789abcdef\r\n", 20000)
	if _, err := s.DeliverMessage(ctx, []string{"bob"}, strings.NewReader(large), func() []byte { return []byte("X: 1\r\n") }); err != nil {
		t.Fatal(err)
	}
	if got := inbox(t, s, "bob"); len(got) != 2 || got[1] != "X: 1\r\n"+large {
		t.Errorf("large message differs (%d messages)", len(got))
	}
}

type eofWatcher struct {
	r   io.Reader
	eof *bool
}

func (w *eofWatcher) Read(p []byte) (int, error) {
	n, err := w.r.Read(p)
	if err == io.EOF {
		*w.eof = true
	}
	return n, err
}

// inbox returns the user's INBOX messages through the POP3 methods.
func inbox(t *testing.T, s *Store, user string) []string {
	t.Helper()
	ctx := context.Background()
	uidls, _, unlock, err := s.LockMaildrop(ctx, user)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	var out []string
	for _, u := range uidls {
		r, err := s.OpenMaildropMessage(ctx, user, u)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(r)
		out = append(out, string(b))
	}
	return out
}
