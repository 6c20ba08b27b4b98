package smtpserver

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"strings"
	"syscall"

	"github.com/posthorn/posthorn/smtp"
	"github.com/posthorn/posthorn/smtp/spf"
)

// DeliveryStore is a mail store that SMTP and LMTP deliver into through
// NewStoreBackend: the delivery third of "one store, three protocols"
// (pop3server.MaildropStore and imapserver.Backend are the others). It
// uses standard types only, so a store satisfies it without importing
// this package; imapmem.Store and maildir.Store do.
//
// Errors are told apart by the standard errors they wrap (errors.Is),
// never by a type of this package:
//
//   - fs.ErrNotExist: no such user (550 5.1.1);
//   - syscall.EDQUOT: the user's quota would be exceeded
//     (StoreOptions.OverQuota, 452 4.2.2 by default);
//   - a *smtp.Error is answered as it is;
//   - anything else is a local failure, answered 451 4.3.0 and logged.
//
// Such an error must not wrap a syscall.Errno itself (give it an Is
// method instead): errors.As finds a net.Error in an Errno, and a server
// would take the store's refusal for a broken connection. The stores of
// this module check their conformance with internal/storetest.
type DeliveryStore interface {
	// CheckQuota reports whether username exists and could take one more
	// message of size octets now; size is 0 when the client did not
	// declare one (MAIL SIZE=, RFC 1870), which asks whether the mailbox
	// is full. NewStoreBackend calls it at RCPT, where a refusal concerns
	// one recipient only (RFC 5321 §3.3); DeliverMessage checks again.
	CheckQuota(ctx context.Context, username string, size int64) error

	// DeliverMessage stores one message for each of usernames, which are
	// distinct.
	//
	// It reads body to io.EOF before it commits anything. body is not
	// acknowledged yet and may be as large as the server's
	// MaxMessageSize, for up to MaxConnections transactions at once, so
	// the store streams it to its spool (a temporary file, the Maildir
	// tmp/ file) and holds no more than a few buffers of it in memory. If
	// body returns an error other than io.EOF (the client vanished, the
	// message broke a limit or the line-end policy), nothing is
	// delivered and DeliverMessage returns an error wrapping it.
	//
	// After io.EOF it calls header, when not nil, once: it returns the
	// header lines to put before the body, each ending in CRLF
	// (Received:, and Authentication-Results: computed while the body
	// streamed). A store that writes the body to a file as it arrives
	// writes the header at commit: in front of the file it renames into
	// place, or as a separate part.
	//
	// The body has CRLF line ends (after BODY=BINARYMIME, any octets); a
	// store may keep another form on disk, as Maildir keeps LF.
	//
	// perRecipient[i] is the result for usernames[i]: nil once the
	// message is stored (durably, for a store that promises durability:
	// the client is told 250 next), or an error classified as above. A
	// non-nil err means nothing was stored for anyone.
	DeliverMessage(ctx context.Context, usernames []string, body io.Reader, header func() []byte) (perRecipient []error, err error)
}

// StoreOptions configures NewStoreBackend. The zero value delivers mail
// for any domain to the account named by the recipient's local part.
type StoreOptions struct {
	// Domains are the local mail domains. A recipient in any other domain
	// is refused with 550 5.7.1: this backend only delivers locally, it
	// never relays. nil treats every domain as local, which suits a test
	// server.
	Domains []string

	// Recipient maps an accepted recipient to the account that receives
	// the message. It returns the account name, or an error: a
	// *smtp.Error is the RCPT reply, an error wrapping fs.ErrNotExist is
	// answered 550 5.1.1. nil maps <postmaster> and postmaster@ a local
	// domain to Postmaster (RFC 5321 §4.5.1), refuses other domains (see
	// Domains), and takes the local part, lower-cased, as the account
	// name.
	Recipient func(ctx context.Context, c *ConnInfo, to smtp.Mailbox) (username string, err error)

	// Postmaster is the account that receives mail for the postmaster
	// (RFC 5321 §4.5.1 requires accepting it); "" means "postmaster".
	Postmaster string

	// RequireOwnSender makes MAIL FROM on this backend carry the
	// authenticated user's own address (RFC 6409 §6.1: a submission
	// server may check the sender): the user name at one of Domains, or
	// the user name itself when it is an address (with Domains nil, only
	// the latter). An unauthenticated session and the null sender are
	// refused (550 5.7.1). Set it for submission, not for an MX.
	RequireOwnSender bool

	// OverQuota is the reply for a recipient over quota. nil means 452
	// 4.2.2: a full mailbox is a persistent transient failure (RFC 3463
	// §3.3, X.2.2): the user can make room, so the sender should keep the
	// message and retry rather than bounce it at once (RFC 5321 §4.2.3,
	// 452). Use 552 5.2.2 to bounce at once.
	OverQuota *smtp.Error

	// Inspect, when not nil, sees each message as it streams into the
	// store, for checks that need the whole message, such as DKIM
	// verification (dkim.Verifier is an io.Writer). It is called when the
	// message data starts, with the envelope; the message is written to w
	// (nil: not needed) as the store receives it, without the Received:
	// field. After the last octet and before the store commits, done is
	// called (not for a message cut short): it returns header lines, each
	// ending in CRLF, to put above the Received: field
	// (Authentication-Results:, RFC 8601 §5), or an error to refuse the
	// message, nothing being stored (a *smtp.Error is the reply).
	Inspect func(ctx context.Context, c *ConnInfo, from smtp.Mailbox, to []smtp.Mailbox) (w io.Writer, done func() ([]byte, error))

	// Authenticate, when not nil, checks SPF, DKIM and DMARC on the mail
	// this backend receives and records the results in
	// Authentication-Results (see InboundAuth). Set it for an MX.
	Authenticate *InboundAuth

	// Logger records local failures and, in SMTP mode, a recipient that
	// failed after DATA when another succeeded (one reply cannot say so,
	// and this backend has no queue to send a bounce). nil discards.
	Logger *slog.Logger
}

// NewStoreBackend returns a Backend that delivers into store: each
// accepted recipient is mapped to an account and checked against its
// quota at RCPT, and the message streams into the store once for all
// recipients, with the server's Received: field handed over at commit.
// In LMTP mode each recipient gets its own result (RFC 2033 §4.2); in
// SMTP mode the reply is 250 once any recipient got the message.
//
// The same store can serve IMAP (imapserver.Backend) and POP3
// (pop3server.NewStoreBackend) at the same time.
func NewStoreBackend(store DeliveryStore, opts StoreOptions) Backend {
	b := &storeBackend{store: store, opts: opts, overQuota: opts.OverQuota, log: opts.Logger}
	if b.overQuota == nil {
		b.overQuota = errStoreOverQuota
	}
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	if b.opts.Postmaster == "" {
		b.opts.Postmaster = "postmaster"
	}
	return b
}

var (
	errStoreRelay     = smtp.NewError(550, smtp.EnhancedCode{5, 7, 1}, "Relaying denied: this server delivers only to its own domains")
	errStoreNoUser    = smtp.NewError(550, smtp.EnhancedCode{5, 1, 1}, "No such user here")
	errStoreNotOwner  = smtp.NewError(550, smtp.EnhancedCode{5, 7, 1}, "Sender address is not owned by the authenticated user")
	errStoreOverQuota = smtp.NewError(452, smtp.EnhancedCode{4, 2, 2}, "Mailbox full")
	errStoreFailed    = smtp.NewError(451, smtp.CodeTempLocal, "Local error in processing")
)

type storeBackend struct {
	store     DeliveryStore
	opts      StoreOptions
	overQuota *smtp.Error
	log       *slog.Logger
}

func (b *storeBackend) NewSession(ctx context.Context, c *ConnInfo) (Session, error) {
	return &storeSession{b: b, conn: c}, nil
}

// storeSession is one connection's transactions.
type storeSession struct {
	b     *storeBackend
	conn  *ConnInfo
	size  int64    // MAIL SIZE=, 0 when not declared
	users []string // distinct accounts of the accepted recipients
	rcpt  []int    // per accepted RCPT, its index in users
	trace []byte   // the server's Received: field, set before Data

	// For StoreOptions.Inspect only.
	from  smtp.Mailbox
	to    []smtp.Mailbox // accepted recipients, in order
	extra []byte         // lines Inspect's done returned
	hdr   []byte         // extra and trace, handed to the store
	tee   inspectReader

	// For StoreOptions.Authenticate only.
	verdict  AuthVerdict
	auth     authReader
	helo     *spf.Outcome // the HELO identity's check, once per name
	heloName string
}

var (
	_ LMTPSession = (*storeSession)(nil)
	_ traceTaker  = (*storeSession)(nil)
)

func (s *storeSession) local(domain string) bool {
	if s.b.opts.Domains == nil {
		return true
	}
	domain = strings.TrimSuffix(domain, ".")
	for _, d := range s.b.opts.Domains {
		if strings.EqualFold(d, domain) {
			return true
		}
	}
	return false
}

func (s *storeSession) Mail(ctx context.Context, from smtp.Mailbox, opts *smtp.MailOptions) error {
	s.Reset(ctx)
	s.from = from
	if opts != nil {
		s.size = opts.Size
	}
	if s.b.opts.RequireOwnSender && !s.ownSender(from) {
		return errStoreNotOwner
	}
	if s.checking() {
		return s.authMail(ctx, from)
	}
	return nil
}

// ownSender reports whether from is the authenticated user's address.
func (s *storeSession) ownSender(from smtp.Mailbox) bool {
	id := s.conn.Identity
	if id == nil || from.IsNull() {
		return false
	}
	if local, domain, ok := strings.Cut(id.Username, "@"); ok {
		return from.Local == local && strings.EqualFold(from.Domain, domain)
	}
	return strings.EqualFold(from.Local, id.Username) && s.b.opts.Domains != nil && s.local(from.Domain)
}

func (s *storeSession) Rcpt(ctx context.Context, to smtp.Mailbox, opts *smtp.RcptOptions) error {
	user, err := s.account(ctx, to)
	if err != nil {
		return s.reply(err)
	}
	for i, u := range s.users {
		if u == user { // a second address of the same account: one copy
			s.rcpt = append(s.rcpt, i)
			s.to = append(s.to, to)
			return nil
		}
	}
	// Refuse a recipient whose mailbox cannot take the message here,
	// where the reply is per recipient (RFC 5321 §3.3), not after DATA.
	if err := s.b.store.CheckQuota(ctx, user, s.size); err != nil {
		return s.reply(err)
	}
	s.rcpt = append(s.rcpt, len(s.users))
	s.to = append(s.to, to)
	s.users = append(s.users, user)
	return nil
}

// account maps a recipient to the account that receives its mail.
func (s *storeSession) account(ctx context.Context, to smtp.Mailbox) (string, error) {
	if f := s.b.opts.Recipient; f != nil {
		user, err := f(ctx, s.conn, to)
		if err == nil && user == "" {
			err = errStoreNoUser
		}
		return user, err
	}
	switch {
	case to.IsPostmaster():
		// RFC 5321 §4.5.1: <postmaster> without a domain, always.
		return s.b.opts.Postmaster, nil
	case !s.local(to.Domain):
		return "", errStoreRelay
	case strings.EqualFold(to.Local, "postmaster"):
		return s.b.opts.Postmaster, nil
	}
	return strings.ToLower(to.Local), nil
}

// reply turns a store error into the reply for the client.
func (s *storeSession) reply(err error) error {
	var se *smtp.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &se):
		return se
	case errors.Is(err, fs.ErrNotExist):
		return errStoreNoUser
	case errors.Is(err, syscall.EDQUOT):
		return s.b.overQuota
	}
	s.b.log.Warn("store failed", "err", err)
	return errStoreFailed
}

func (s *storeSession) takeTrace(b []byte) { s.trace = b }

func (s *storeSession) header() []byte {
	if len(s.extra) == 0 {
		return s.trace
	}
	s.hdr = append(append(s.hdr[:0], s.extra...), s.trace...)
	return s.hdr
}

func (s *storeSession) deliver(ctx context.Context, r io.Reader) ([]error, error) {
	s.extra = s.extra[:0]
	if s.checking() {
		r = s.authBody(ctx, r)
		ctx = context.WithValue(ctx, verdictKey{}, &s.verdict)
	}
	if f := s.b.opts.Inspect; f != nil {
		w, done := f(ctx, s.conn, s.from, s.to)
		s.tee = inspectReader{r: r, w: w, done: done, extra: &s.extra}
		r = &s.tee
	}
	res, err := s.b.store.DeliverMessage(ctx, s.users, r, s.header)
	s.trace = nil
	s.tee = inspectReader{}
	s.auth.v, s.auth.r, s.auth.ctx = nil, nil, nil
	if err != nil {
		// A body error is answered by the server, which knows which
		// limit or policy it enforced; the rest are local failures.
		return nil, s.reply(err)
	}
	if len(res) != len(s.users) {
		s.b.log.Error("store returned a wrong number of results", "want", len(s.users), "got", len(res))
		return nil, errStoreFailed
	}
	return res, nil
}

// Data delivers to every recipient. The one reply is 250 once any
// recipient got the message; failures of the others are logged.
func (s *storeSession) Data(ctx context.Context, r io.Reader) error {
	res, err := s.deliver(ctx, r)
	if err != nil {
		return err
	}
	for _, e := range res {
		if e == nil {
			for i, e := range res {
				if e != nil {
					s.b.log.Warn("delivery failed for one recipient", "user", s.users[i], "err", e)
				}
			}
			return nil
		}
	}
	if len(res) == 0 {
		return errStoreFailed
	}
	return s.reply(res[0])
}

// LMTPData answers for each recipient (RFC 2033 §4.2): one over quota
// gets its reply while the others get their copy.
func (s *storeSession) LMTPData(ctx context.Context, r io.Reader) []error {
	res, err := s.deliver(ctx, r)
	if err != nil {
		return []error{err}
	}
	out := make([]error, len(s.rcpt))
	for i, u := range s.rcpt {
		out[i] = s.reply(res[u])
	}
	return out
}

func (s *storeSession) Reset(ctx context.Context) {
	s.size, s.users, s.rcpt, s.trace = 0, s.users[:0], s.rcpt[:0], nil
	s.from, s.to = smtp.Mailbox{}, s.to[:0]
	s.verdict = AuthVerdict{}
}

var crlfBytes = []byte("\r\n")

// inspectReader copies the message to StoreOptions.Inspect's writer and,
// at its end, asks its verdict: an error instead of io.EOF makes the
// store deliver nothing.
type inspectReader struct {
	r     io.Reader
	w     io.Writer
	done  func() ([]byte, error)
	extra *[]byte
	err   error // a write error of w: w sees no more
}

func (t *inspectReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if n > 0 && t.w != nil && t.err == nil {
		_, t.err = t.w.Write(p[:n])
	}
	if err == io.EOF && t.done != nil {
		done := t.done
		t.done = nil
		lines, derr := done()
		if derr != nil {
			return n, derr
		}
		*t.extra = append(*t.extra, lines...)
		if n := len(*t.extra); n > 0 && !bytes.HasSuffix(*t.extra, crlfBytes) {
			// The lines must not run into the Received: field.
			*t.extra = append(*t.extra, crlfBytes...)
		}
	}
	return n, err
}

func (s *storeSession) Close(ctx context.Context) error { return nil }
