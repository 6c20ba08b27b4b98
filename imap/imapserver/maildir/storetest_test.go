package maildir_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/posthorn/posthorn/imap/imapserver"
	"github.com/posthorn/posthorn/imap/imapserver/maildir"
	"github.com/posthorn/posthorn/internal/storetest"
)

// TestStoreContract runs the delivery and maildrop contract imapmem runs
// too (internal/storetest), so that the two stores cannot drift apart.
func TestStoreContract(t *testing.T) {
	storetest.Run(t, storetest.Env{
		New: func(t *testing.T) storetest.Store {
			s, err := maildir.Open(t.TempDir(), nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
		AddUser: func(t *testing.T, s storetest.Store, name string) {
			if err := s.(*maildir.Store).AddUser(name, "pw"); err != nil {
				t.Fatal(err)
			}
		},
		SetQuota: func(t *testing.T, s storetest.Store, name string, octets int64) {
			if err := s.(*maildir.Store).SetQuota(name, octets, 0); err != nil {
				t.Fatal(err)
			}
		},
		Expunge: func(t *testing.T, s storetest.Store, name, uidl string) {
			ctx := context.Background()
			u, err := s.(*maildir.Store).User(ctx, name, nil)
			if err != nil {
				t.Fatal(err)
			}
			h, err := u.OpenMailbox(ctx, "INBOX", false)
			if err != nil {
				t.Fatal(err)
			}
			defer h.Close()
			_, uidStr, _ := strings.Cut(uidl, ".")
			uid, _ := strconv.ParseUint(uidStr, 10, 32)
			if _, err := h.SetFlags(ctx, []uint32{uint32(uid)}, imapserver.FlagsAdd, []string{`\Deleted`}, 0); err != nil {
				t.Fatal(err)
			}
			if err := h.Expunge(ctx, nil); err != nil {
				t.Fatal(err)
			}
		},
	})
}
