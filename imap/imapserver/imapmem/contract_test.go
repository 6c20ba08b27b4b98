package imapmem_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/posthorn/posthorn/imap/imapserver"
	"github.com/posthorn/posthorn/imap/imapserver/imapmem"
	"github.com/posthorn/posthorn/internal/storetest"
	"github.com/posthorn/posthorn/pop3/pop3server"
	"github.com/posthorn/posthorn/smtp/smtpserver"
)

// The store serves SMTP delivery and POP3 through the servers' glue
// without importing them; storetest's contract is theirs.
var (
	_ smtpserver.DeliveryStore = (*imapmem.Store)(nil)
	_ pop3server.MaildropStore = (*imapmem.Store)(nil)
	_ smtpserver.DeliveryStore = storetest.Store(nil)
	_ pop3server.MaildropStore = storetest.Store(nil)
	_ imapserver.Backend       = (*imapmem.Store)(nil)
)

func TestStoreContract(t *testing.T) {
	storetest.Run(t, storetest.Env{
		New: func(t *testing.T) storetest.Store {
			s := imapmem.New()
			s.SetSpoolDir(t.TempDir())
			return s
		},
		AddUser: func(t *testing.T, s storetest.Store, name string) {
			if err := s.(*imapmem.Store).AddUser(name, "pw"); err != nil {
				t.Fatal(err)
			}
		},
		SetQuota: func(t *testing.T, s storetest.Store, name string, octets int64) {
			if err := s.(*imapmem.Store).SetQuota(name, octets, 0); err != nil {
				t.Fatal(err)
			}
		},
		Expunge: func(t *testing.T, s storetest.Store, name, uidl string) {
			ctx := context.Background()
			u, err := s.(*imapmem.Store).User(ctx, name, nil)
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
