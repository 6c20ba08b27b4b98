package smtpserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/posthorn/posthorn/imap/imapserver/imapmem"
	"github.com/posthorn/posthorn/sasl"
	"github.com/posthorn/posthorn/smtp"
	"github.com/stretchr/testify/require"
)

// The in-memory store serves SMTP delivery without importing this package.
var _ DeliveryStore = (*imapmem.Store)(nil)

// recStore is a DeliveryStore that records what it is asked.
type recStore struct {
	mu       sync.Mutex
	users    map[string]bool
	full     map[string]bool // over quota
	checked  []string        // CheckQuota calls: "user size"
	got      []recDelivery
	failBody bool // a body error reached the store
}

type recDelivery struct {
	users  []string
	header string
	body   string
}

func newRecStore(users ...string) *recStore {
	s := &recStore{users: map[string]bool{}, full: map[string]bool{}}
	for _, u := range users {
		s.users[u] = true
	}
	return s
}

func (s *recStore) result(user string) error {
	switch {
	case !s.users[user]:
		return fmt.Errorf("rec: %q: %w", user, fs.ErrNotExist)
	case s.full[user]:
		return fmt.Errorf("rec: %q full: %w", user, syscall.EDQUOT)
	}
	return nil
}

func (s *recStore) CheckQuota(ctx context.Context, user string, size int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checked = append(s.checked, fmt.Sprint(user, " ", size))
	return s.result(user)
}

func (s *recStore) DeliverMessage(ctx context.Context, users []string, body io.Reader, header func() []byte) ([]error, error) {
	b, err := io.ReadAll(body)
	if err != nil {
		s.mu.Lock()
		s.failBody = true
		s.mu.Unlock()
		return nil, fmt.Errorf("rec: %w", err)
	}
	h := string(header()) // only now: after io.EOF
	s.mu.Lock()
	defer s.mu.Unlock()
	res := make([]error, len(users))
	var ok []string
	for i, u := range users {
		if res[i] = s.result(u); res[i] == nil {
			ok = append(ok, u)
		}
	}
	if ok != nil {
		s.got = append(s.got, recDelivery{users: ok, header: h, body: string(b)})
	}
	return res, nil
}

func (s *recStore) deliveries() []recDelivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]recDelivery(nil), s.got...)
}

func storeServer(t *testing.T, st DeliveryStore, mode Mode, opts StoreOptions) *wire {
	t.Helper()
	addr := startServer(t, &Server{Backend: NewStoreBackend(st, opts), Mode: mode})
	w := dialWire(t, addr)
	if mode == ModeLMTP {
		w.cmd("LHLO client.test", 250)
	} else {
		w.cmd("EHLO client.test", 250)
	}
	return w
}

func requireReply(t *testing.T, r *smtp.Reply, enh string) {
	t.Helper()
	require.Equal(t, enh, r.Enhanced.String(), "reply %d %q", r.Code, r.Lines)
}

// RCPT maps a recipient to an account and refuses early what cannot be
// delivered (RFC 5321 §3.3): another domain (no relaying), an unknown
// account, a full mailbox (452 4.2.2, RFC 3463 §3.3 X.2.2).
func TestStoreBackendRcpt(t *testing.T) {
	st := newRecStore("alice", "bob", "pm")
	st.full["bob"] = true
	w := storeServer(t, st, ModeMX, StoreOptions{Domains: []string{"example.org"}, Postmaster: "pm"})
	w.cmd("MAIL FROM:<x@example.net> SIZE=1000", 250)
	requireReply(t, w.cmd("RCPT TO:<alice@elsewhere.example>", 550), "5.7.1")
	requireReply(t, w.cmd("RCPT TO:<carol@example.org>", 550), "5.1.1")
	requireReply(t, w.cmd("RCPT TO:<bob@example.org>", 452), "4.2.2")
	w.cmd("RCPT TO:<Alice@Example.ORG>", 250)
	w.cmd("RCPT TO:<postmaster>", 250)             // RFC 5321 §4.5.1
	w.cmd("RCPT TO:<PostMaster@example.org>", 250) // the same account: one copy
	w.cmd("DATA", 354)
	w.send("Subject: hi\r\n\r\nbody\r\n.\r\n")
	w.expect(250)
	require.Equal(t, []string{"carol 1000", "bob 1000", "alice 1000", "pm 1000"}, st.checked)
	got := st.deliveries()
	require.Len(t, got, 1)
	require.Equal(t, []string{"alice", "pm"}, got[0].users)
	// The Received: field comes at commit through header(), not in the body.
	require.True(t, strings.HasPrefix(got[0].header, "Received: from client.test ("), got[0].header)
	require.True(t, strings.HasSuffix(got[0].header, "\r\n"))
	require.Equal(t, "Subject: hi\r\n\r\nbody\r\n", got[0].body)
}

// A different reply for a full mailbox (bounce at once).
func TestStoreBackendOverQuotaReply(t *testing.T) {
	st := newRecStore("bob")
	st.full["bob"] = true
	w := storeServer(t, st, ModeMX, StoreOptions{OverQuota: smtp.NewError(552, smtp.EnhancedCode{5, 2, 2}, "Mailbox full")})
	w.cmd("MAIL FROM:<x@example.net>", 250)
	requireReply(t, w.cmd("RCPT TO:<bob@any.example>", 552), "5.2.2")
}

// In SMTP mode one reply covers all recipients: 250 once any got the
// message; the first failure's reply when none did.
func TestStoreBackendDataOneReply(t *testing.T) {
	st := newRecStore("alice", "bob")
	w := storeServer(t, st, ModeMX, StoreOptions{})
	w.cmd("MAIL FROM:<x@example.net>", 250)
	w.cmd("RCPT TO:<alice@a.example>", 250)
	w.cmd("RCPT TO:<bob@a.example>", 250)
	st.mu.Lock()
	st.full["bob"] = true // fills up between RCPT and DATA
	st.mu.Unlock()
	w.cmd("DATA", 354)
	w.send("Subject: 1\r\n\r\n.\r\n")
	w.expect(250)
	w.cmd("MAIL FROM:<x@example.net>", 250)
	w.cmd("RCPT TO:<alice@a.example>", 250)
	st.mu.Lock()
	st.full["alice"] = true
	st.mu.Unlock()
	w.cmd("DATA", 354)
	w.send("Subject: 2\r\n\r\n.\r\n")
	requireReply(t, w.expect(452), "4.2.2")
	got := st.deliveries()
	require.Len(t, got, 1)
	require.Equal(t, []string{"alice"}, got[0].users)
}

// LMTP answers each recipient after the data (RFC 2033 §4.2), in RCPT
// order, the same for two addresses of one account.
func TestStoreBackendLMTPPerRecipient(t *testing.T) {
	st := newRecStore("alice", "bob")
	w := storeServer(t, st, ModeLMTP, StoreOptions{})
	w.cmd("MAIL FROM:<x@example.net>", 250)
	w.cmd("RCPT TO:<bob@a.example>", 250)
	w.cmd("RCPT TO:<alice@a.example>", 250)
	w.cmd("RCPT TO:<BOB@b.example>", 250)
	st.mu.Lock()
	st.full["bob"] = true
	st.mu.Unlock()
	w.cmd("DATA", 354)
	w.send("Subject: 1\r\n\r\n.\r\n")
	requireReply(t, w.expect(452), "4.2.2")
	w.expect(250)
	requireReply(t, w.expect(452), "4.2.2")
	got := st.deliveries()
	require.Len(t, got, 1)
	require.Equal(t, []string{"alice"}, got[0].users)
	require.True(t, strings.HasPrefix(got[0].header, "Received: "))
}

// A message the server rejects (bare LF, RFC 5321 §2.3.8) reaches the
// store as a failing body: nothing is delivered.
func TestStoreBackendBodyErrorDeliversNothing(t *testing.T) {
	st := newRecStore("alice")
	w := storeServer(t, st, ModeMX, StoreOptions{})
	w.cmd("MAIL FROM:<x@example.net>", 250)
	w.cmd("RCPT TO:<alice@a.example>", 250)
	w.cmd("DATA", 354)
	w.send("Subject: 1\r\n\r\nbare\nLF\r\n.\r\n")
	requireReply(t, w.expect(550), "5.6.0")
	require.Empty(t, st.deliveries())
	require.True(t, st.failBody)
}

// RequireOwnSender: a submission client sends as itself only (RFC 6409
// §6.1).
func TestStoreBackendOwnSender(t *testing.T) {
	ctx := context.Background()
	b := NewStoreBackend(newRecStore(), StoreOptions{Domains: []string{"example.org"}, RequireOwnSender: true})
	for _, tc := range []struct {
		user string // "" = not authenticated
		from smtp.Mailbox
		ok   bool
	}{
		{"alice", smtp.Mailbox{Local: "alice", Domain: "example.org"}, true},
		{"alice", smtp.Mailbox{Local: "ALICE", Domain: "EXAMPLE.ORG"}, true},
		{"alice", smtp.Mailbox{Local: "bob", Domain: "example.org"}, false},
		{"alice", smtp.Mailbox{Local: "alice", Domain: "example.net"}, false},
		{"alice", smtp.Mailbox{}, false},
		{"", smtp.Mailbox{Local: "alice", Domain: "example.org"}, false},
		{"alice@example.net", smtp.Mailbox{Local: "alice", Domain: "example.net"}, true},
		{"alice@example.net", smtp.Mailbox{Local: "alice", Domain: "example.org"}, false},
	} {
		ci := &ConnInfo{Service: "submission"}
		if tc.user != "" {
			ci.Identity = &sasl.Identity{Username: tc.user}
		}
		s, err := b.NewSession(ctx, ci)
		require.NoError(t, err)
		err = s.Mail(ctx, tc.from, &smtp.MailOptions{})
		var se *smtp.Error
		if tc.ok {
			require.NoError(t, err, "%s as %v", tc.user, tc.from)
		} else {
			require.True(t, errors.As(err, &se) && se.Code == 550, "%s as %v: %v", tc.user, tc.from, err)
		}
	}
}

// Over imapmem: delivery through the library glue lands in the INBOX
// with the Received: field first, once per account.
func TestStoreBackendImapmem(t *testing.T) {
	st := imapmem.New()
	require.NoError(t, st.AddUser("alice", "pw"))
	require.NoError(t, st.AddUser("bob", "pw"))
	require.NoError(t, st.SetQuota("bob", 10, 0))
	w := storeServer(t, st, ModeLMTP, StoreOptions{})
	w.cmd("MAIL FROM:<x@example.net>", 250)
	w.cmd("RCPT TO:<alice@a.example>", 250)
	w.cmd("RCPT TO:<nobody@a.example>", 550)
	w.cmd("RCPT TO:<bob@a.example>", 250) // fits with no size declared
	w.cmd("DATA", 354)
	w.send("Subject: hi\r\n\r\nbody\r\n.\r\n")
	w.expect(250)
	requireReply(t, w.expect(452), "4.2.2")
	uidls, _, unlock, err := st.LockMaildrop(context.Background(), "alice")
	require.NoError(t, err)
	defer unlock()
	require.Len(t, uidls, 1)
	r, err := st.OpenMaildropMessage(context.Background(), "alice", uidls[0])
	require.NoError(t, err)
	b, _ := io.ReadAll(r)
	require.True(t, strings.HasPrefix(string(b), "Received: from client.test"), "%q", b)
	require.True(t, strings.HasSuffix(string(b), "\r\nSubject: hi\r\n\r\nbody\r\n"), "%q", b)
}

// StoreOptions.Inspect sees the message as it streams, with its
// envelope, and puts its verdict above the Received: field
// (Authentication-Results:, RFC 8601 §5), or refuses the message.
func TestStoreBackendInspect(t *testing.T) {
	st := newRecStore("alice", "bob")
	var seen strings.Builder
	var env string
	opts := StoreOptions{Inspect: func(ctx context.Context, c *ConnInfo, from smtp.Mailbox, to []smtp.Mailbox) (io.Writer, func() ([]byte, error)) {
		env = fmt.Sprint(c.Hostname, " ", from, " ", to)
		seen.Reset()
		return &seen, func() ([]byte, error) {
			if strings.Contains(seen.String(), "spam") {
				return nil, smtp.NewError(550, smtp.EnhancedCode{5, 7, 1}, "Refused by policy")
			}
			return []byte(fmt.Sprintf("Authentication-Results: mx.test; x-octets=%d", seen.Len())), nil
		}
	}}
	w := storeServer(t, st, ModeMX, opts)
	w.cmd("MAIL FROM:<x@example.net>", 250)
	w.cmd("RCPT TO:<alice@a.example>", 250)
	w.cmd("RCPT TO:<bob@b.example>", 250)
	w.cmd("DATA", 354)
	w.send("Subject: hi\r\n\r\nbody\r\n.\r\n")
	w.expect(250)
	require.Equal(t, "client.test x@example.net [alice@a.example bob@b.example]", env)
	require.Equal(t, "Subject: hi\r\n\r\nbody\r\n", seen.String())
	got := st.deliveries()
	require.Len(t, got, 1)
	require.True(t, strings.HasPrefix(got[0].header, "Authentication-Results: mx.test; x-octets=21\r\nReceived: from client.test"), "%q", got[0].header)

	// A refusal after the data: nothing is stored, the reply is its own.
	w.cmd("MAIL FROM:<x@example.net>", 250)
	w.cmd("RCPT TO:<alice@a.example>", 250)
	w.cmd("DATA", 354)
	w.send("Subject: spam\r\n\r\nbody\r\n.\r\n")
	requireReply(t, w.expect(550), "5.7.1")
	require.Len(t, st.deliveries(), 1)
}
