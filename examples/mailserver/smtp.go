package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"

	"github.com/posthorn/posthorn/imap/imapserver"
	"github.com/posthorn/posthorn/imap/imapserver/imapmem"
	"github.com/posthorn/posthorn/smtp"
	"github.com/posthorn/posthorn/smtp/smtpserver"
)

// smtpBackend delivers SMTP mail into the store. The same type serves the MX
// listener and submission; submission additionally insists that the
// envelope sender belongs to the authenticated account.
type smtpBackend struct {
	store      *imapmem.Store
	domain     string
	submission bool
	postmaster string // account that receives mail for postmaster
	logger     *slog.Logger
}

func (b *smtpBackend) NewSession(ctx context.Context, c *smtpserver.ConnInfo) (smtpserver.Session, error) {
	return &smtpSession{b: b, conn: c}, nil
}

type smtpSession struct {
	b     *smtpBackend
	conn  *smtpserver.ConnInfo
	users []string // accounts of the accepted recipients
	size  int64    // MAIL SIZE= (RFC 1870), 0 when not declared
}

var (
	errRelay    = smtp.NewError(550, smtp.EnhancedCode{5, 7, 1}, "Relaying is not available: this server delivers only to its own domain")
	errNoUser   = smtp.NewError(550, smtp.EnhancedCode{5, 1, 1}, "No such user here")
	errNotOwner = smtp.NewError(550, smtp.EnhancedCode{5, 7, 1}, "Sender address is not owned by the authenticated account")
	// A full mailbox is a "persistent transient failure" (RFC 3463 §3.3,
	// X.2.2): the user can make room, so the sender keeps the message
	// queued and retries, rather than bouncing it at once. Hence 452 (RFC
	// 5321 §4.2.3, "insufficient system storage") with 4.2.2, not 552 5.2.2.
	errOverQuota   = smtp.NewError(452, smtp.EnhancedCode{4, 2, 2}, "Mailbox full")
	errStoreFailed = smtp.NewError(451, smtp.EnhancedCode{4, 3, 0}, "Local error in processing")
)

func (s *smtpSession) Mail(ctx context.Context, from smtp.Mailbox, opts *smtp.MailOptions) error {
	s.users = s.users[:0]
	s.size = 0
	if opts != nil {
		s.size = opts.Size
	}
	if !s.b.submission {
		return nil
	}
	// RFC 6409 §6.1: a submission server may check that the sender is
	// one the authenticated user may use. Here: exactly USER@DOMAIN.
	id := s.conn.Identity
	if id == nil || from.IsNull() || !strings.EqualFold(from.Domain, s.b.domain) || !strings.EqualFold(from.Local, id.Username) {
		return errNotOwner
	}
	return nil
}

func (s *smtpSession) Rcpt(ctx context.Context, to smtp.Mailbox, opts *smtp.RcptOptions) error {
	var user string
	switch {
	case to.IsPostmaster(), strings.EqualFold(to.Local, "postmaster") && strings.EqualFold(to.Domain, s.b.domain):
		// RFC 5321 §4.5.1: postmaster must be accepted.
		user = s.b.postmaster
	case !strings.EqualFold(to.Domain, s.b.domain):
		return errRelay
	default:
		user = strings.ToLower(to.Local)
	}
	if user == "" || !s.b.store.HasUser(user) {
		return errNoUser
	}
	// Refuse a recipient whose mailbox cannot take the message (as
	// declared by SIZE=, or any message when it is full) here, where the
	// reply is per recipient (RFC 5321 §3.3), not after DATA.
	if err := s.b.store.CheckQuota(ctx, user, s.size); errors.Is(err, imapserver.ErrOverQuota) {
		return errOverQuota
	}
	s.users = append(s.users, user)
	return nil
}

func (s *smtpSession) Data(ctx context.Context, r io.Reader) error {
	// Read to io.EOF before committing: the server reports limit and
	// bare CR/LF violations only at the end.
	var msg bytes.Buffer
	if _, err := msg.ReadFrom(r); err != nil {
		return err
	}
	delivered := 0
	for _, u := range s.users {
		_, err := s.b.store.Deliver(ctx, u, bytes.NewReader(msg.Bytes()))
		switch {
		case err == nil:
			delivered++
		case errors.Is(err, imapserver.ErrOverQuota):
			if delivered == 0 && len(s.users) == 1 {
				return errOverQuota
			}
			// Some copies are stored already; one reply cannot say
			// which recipient failed, and a queue that would send a
			// bounce does not exist yet, so log it.
			s.b.logger.Warn("delivery failed for one recipient", "user", u, "err", err)
		default:
			if delivered == 0 {
				return errStoreFailed
			}
			s.b.logger.Warn("delivery failed for one recipient", "user", u, "err", err)
		}
	}
	return nil
}

// LMTPData delivers to each recipient and answers for each (RFC 2033
// §4.2): one over quota gets 452 4.2.2 while the others get their copy.
func (s *smtpSession) LMTPData(ctx context.Context, r io.Reader) []error {
	var msg bytes.Buffer
	if _, err := msg.ReadFrom(r); err != nil {
		return []error{err}
	}
	res := make([]error, len(s.users))
	for i, u := range s.users {
		_, err := s.b.store.Deliver(ctx, u, bytes.NewReader(msg.Bytes()))
		switch {
		case err == nil:
		case errors.Is(err, imapserver.ErrOverQuota):
			res[i] = errOverQuota
		default:
			s.b.logger.Warn("delivery failed", "user", u, "err", err)
			res[i] = errStoreFailed
		}
	}
	return res
}

func (s *smtpSession) Reset(ctx context.Context) { s.users, s.size = s.users[:0], 0 }

func (s *smtpSession) Close(ctx context.Context) error { return nil }
