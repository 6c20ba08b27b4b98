package main

// Submission of a configured server (587 with STARTTLS, 465 with TLS):
// AUTH over TLS required; the envelope sender and the header From must
// be addresses the account owns ("sender_check"); the message is
// DKIM-signed, delivered at once to local recipients and queued for the
// others (smtp/smtpqueue, direct to their MX hosts, retried for days,
// bounced with a DSN to the sender). The MX never relays: only
// submission, after AUTH, reaches the queue.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/mail"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/posthorn/posthorn/mime"
	"github.com/posthorn/posthorn/smtp"
	"github.com/posthorn/posthorn/smtp/dkim"
	"github.com/posthorn/posthorn/smtp/smtpclient"
	"github.com/posthorn/posthorn/smtp/smtpqueue"
	"github.com/posthorn/posthorn/smtp/smtpserver"
)

var (
	errNeedTLS      = smtp.NewError(530, smtp.EnhancedCode{5, 7, 0}, "Must issue a STARTTLS command first")
	errNeedAuth     = smtp.NewError(530, smtp.EnhancedCode{5, 7, 0}, "Authentication required")
	errNotOwner     = smtp.NewError(550, smtp.EnhancedCode{5, 7, 1}, "Sender address is not yours")
	errFromNotOwner = smtp.NewError(550, smtp.EnhancedCode{5, 7, 1}, "From: header address is not yours")
	errNoFrom       = smtp.NewError(550, smtp.EnhancedCode{5, 6, 0}, "The message has no valid From: field (RFC 5322 §3.6)")
	errNoRelay      = smtp.NewError(550, smtp.EnhancedCode{5, 7, 1}, "Relaying is turned off on this server")
	errUserUnknown  = smtp.NewError(550, smtp.EnhancedCode{5, 1, 1}, "No such user here")
	errMailboxFull  = smtp.NewError(452, smtp.EnhancedCode{4, 2, 2}, "Mailbox full")
	errLocalFailure = smtp.NewError(451, smtp.CodeTempLocal, "Local error in processing")
)

// maxHeaderScan bounds how much of a submitted message is read to find
// its From: field.
const maxHeaderScan = 256 << 10

// submissionBackend is submission's backend of a configured server.
type submissionBackend struct{ s *site }

func (b *submissionBackend) NewSession(ctx context.Context, c *smtpserver.ConnInfo) (smtpserver.Session, error) {
	return &submitSession{s: b.s, c: c}, nil
}

// submitSession is one submission connection's transactions.
type submitSession struct {
	s        *site
	c        *smtpserver.ConnInfo
	from     smtp.Mailbox
	mailOpts smtp.MailOptions
	size     int64
	local    []string // distinct accounts
	remote   []string
	rcptOpts []smtp.RcptOptions // of remote
}

func (ss *submitSession) Mail(ctx context.Context, from smtp.Mailbox, opts *smtp.MailOptions) error {
	ss.Reset(ctx)
	// RFC 6409 §4.3 requires authentication, RFC 8314 §3 TLS: a SCRAM
	// login needs no TLS to keep the password, but the message does.
	if ss.c.TLS == nil {
		return errNeedTLS
	}
	if ss.c.Identity == nil {
		return errNeedAuth
	}
	// RFC 6409 §6.1: the server may check the sender is the user's.
	if !ss.s.dir.owns(ss.account(), from) {
		return errNotOwner
	}
	ss.from = from
	if opts != nil {
		ss.size = opts.Size
		ss.mailOpts = smtp.MailOptions{Return: opts.Return, EnvelopeID: opts.EnvelopeID, RequireTLS: opts.RequireTLS}
	}
	return nil
}

func (ss *submitSession) Rcpt(ctx context.Context, to smtp.Mailbox, opts *smtp.RcptOptions) error {
	if to.IsPostmaster() || ss.s.dir.local(to.Domain) {
		name, err := ss.s.dir.resolve(to)
		if err != nil {
			return storeReply(err)
		}
		members := ss.s.dir.members(name)
		if len(members) == 1 {
			if slices.Contains(ss.local, members[0]) {
				return nil
			}
			if err := ss.s.store.CheckQuota(ctx, members[0], ss.size); err != nil {
				return storeReply(err)
			}
		}
		// A list's members are all taken; one that cannot store the
		// message now gets it through the queue (Data).
		for _, m := range members {
			if !slices.Contains(ss.local, m) {
				ss.local = append(ss.local, m)
			}
		}
		return nil
	}
	if ss.s.queue == nil {
		return errNoRelay
	}
	ss.remote = append(ss.remote, to.String())
	var o smtp.RcptOptions
	if opts != nil {
		o = *opts
	}
	ss.rcptOpts = append(ss.rcptOpts, o)
	return nil
}

// storeReply maps a store or directory error to the reply.
func storeReply(err error) error {
	var se *smtp.Error
	switch {
	case errors.As(err, &se):
		return se
	case errors.Is(err, fs.ErrNotExist):
		return errUserUnknown
	case errors.Is(err, syscall.EDQUOT):
		return errMailboxFull
	}
	return errLocalFailure
}

func (ss *submitSession) Data(ctx context.Context, r io.Reader) error {
	f, err := os.CreateTemp(ss.s.spool, "sub-")
	if err != nil {
		ss.s.logger.Error("submission spool", "err", err)
		return errLocalFailure
	}
	defer func() {
		f.Close()
		os.Remove(f.Name())
	}()
	n, err := io.Copy(f, r)
	if err != nil {
		// The server knows which limit or policy the body broke.
		return fmt.Errorf("reading the message: %w", err)
	}
	msg := io.NewSectionReader(f, 0, n)
	fromDomain, added, err := ss.checkFrom(msg)
	if err != nil {
		return err
	}
	// body is the message as it leaves: the fields added, then what the
	// client sent; the signature covers it and goes on top.
	body := func() io.Reader { return io.MultiReader(bytes.NewReader(added), io.NewSectionReader(f, 0, n)) }
	sig := ss.s.sign(fromDomain, body())
	sig = append(sig, added...)

	// Remote recipients are queued, local ones delivered at once. A
	// local delivery that fails (a full mailbox, a disk error) is queued
	// too, for the queue's own transport to retry and, at the end, to
	// bounce: after the 250 nothing is lost, and nobody gets a copy
	// twice. Without a queue (relaying off) the client is told when no
	// local copy could be delivered.
	var retry []string
	var firstErr error
	for _, acct := range ss.local {
		hdr := func() []byte {
			return ss.s.deliveredTo(func() []byte { return append(returnPathField(ss.from), sig...) }, acct)
		}
		res, err := ss.s.store.DeliverMessage(ctx, []string{acct}, io.NewSectionReader(f, 0, n), hdr)
		if err == nil && len(res) == 1 {
			err = res[0]
		}
		if err != nil {
			ss.s.logger.Warn("local delivery of a submitted message failed", "user", acct, "err", err)
			if firstErr == nil {
				firstErr = err
			}
			retry = append(retry, acct+"@"+ss.s.cfg.domains[0])
		}
	}
	if ss.s.queue == nil {
		if firstErr != nil && len(retry) == len(ss.local) {
			return storeReply(firstErr)
		}
		return nil
	}
	to, opts := ss.remote, ss.rcptOpts
	if len(retry) > 0 {
		to = append(slices.Clip(to), retry...)
		opts = append(slices.Clip(opts), make([]smtp.RcptOptions, len(retry))...)
	}
	if len(to) > 0 {
		env := &smtpqueue.Envelope{From: ss.from.String(), To: to, MailOptions: ss.mailOpts, RcptOptions: opts}
		id, err := ss.s.queue.Enqueue(ctx, env, io.MultiReader(strings.NewReader(string(sig)), io.NewSectionReader(f, 0, n)))
		if err != nil {
			ss.s.logger.Error("queueing a submitted message", "err", err)
			if len(retry) < len(ss.local) {
				// Some local copies are delivered already: a retry by
				// the client would deliver them twice, but nothing is
				// lost that way.
				ss.s.logger.Warn("the client will be told to retry; local recipients may get the message twice")
			}
			return errLocalFailure
		}
		ss.s.logger.Info("queued", "id", id, "user", ss.account(), "recipients", len(to), "local_retries", len(retry))
	}
	return nil
}

// checkFrom enforces the sender check on the From: field (RFC 5322
// §3.6.2): every author must be an address the account may send as. It
// returns the first author's domain, lower-case ("" when there is none
// to be found and the check is off).
func (ss *submitSession) checkFrom(msg io.ReaderAt) (string, []byte, error) {
	check := ss.s.cfg.senderCheck != senderOff
	m, err := mail.ReadMessage(bufio.NewReader(io.NewSectionReader(msg, 0, maxHeaderScan)))
	var list []*mail.Address
	var added []byte
	if err == nil {
		list, err = mail.ParseAddressList(m.Header.Get("From"))
		added = ss.s.missingFields(m.Header)
	}
	if err != nil || len(list) == 0 {
		if check {
			return "", nil, errNoFrom
		}
		return "", added, nil
	}
	first := ""
	for i, a := range list {
		local, domain, ok := cutLast(a.Address, "@")
		if i == 0 {
			first = strings.ToLower(strings.TrimSuffix(domain, "."))
		}
		if check && (!ok || !ss.s.dir.owns(ss.account(), smtp.Mailbox{Local: local, Domain: domain})) {
			return "", nil, errFromNotOwner
		}
	}
	return first, added, nil
}

// missingFields returns the Date: and Message-ID: fields a submitted
// message lacks (RFC 5322 §3.6 requires the one and wants the other; RFC
// 6409 §8.2 and §8.3 let the submission server add them). They are added
// here, under the DKIM signature, whose h= also covers their absence: a
// later hop that added them (Postfix does for mail it counts as local)
// would otherwise break the signature.
func (s *site) missingFields(h mail.Header) []byte {
	var b []byte
	if len(h["Date"]) == 0 {
		b = append(b, "Date: "+mime.FormatDate(time.Now())+"\r\n"...)
	}
	if len(h["Message-Id"]) == 0 {
		b = append(b, "Message-ID: "+mime.NewMessageID(s.hostname)+"\r\n"...)
	}
	return b
}

// sign returns the DKIM-Signature field for msg (RFC 6376 §5.6: on top).
// The signing domain is the From: domain when it is local, so that DMARC
// finds the signature aligned (RFC 9989) for every local domain; the one
// key serves them all, published under the selector in each (mailserver
// dns-records -config FILE prints the records). Otherwise it is the
// primary domain. A message that cannot be signed goes unsigned, logged.
func (s *site) sign(fromDomain string, msg io.Reader) []byte {
	d := s.cfg.domains[0]
	if fromDomain != "" && s.dir.local(fromDomain) {
		d = fromDomain
	}
	signer, err := dkim.NewSigner(&dkim.SignOptions{Domain: d, Selector: s.selector, Key: s.mauth.key})
	if err == nil {
		if _, err = io.Copy(signer, msg); err == nil {
			err = signer.Close()
		}
	}
	if err != nil {
		s.logger.Warn("DKIM: message not signed", "err", err)
		return nil
	}
	return []byte(signer.Field())
}

// account is the authenticated account (the login may be NAME@DOMAIN).
func (ss *submitSession) account() string { return ss.s.dir.account(ss.c.Identity.Username) }

func cutLast(s, sep string) (before, after string, ok bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

func (ss *submitSession) Reset(ctx context.Context) {
	ss.from, ss.mailOpts, ss.size = smtp.Mailbox{}, smtp.MailOptions{}, 0
	ss.local, ss.remote, ss.rcptOpts = ss.local[:0], ss.remote[:0], ss.rcptOpts[:0]
}

func (ss *submitSession) Close(ctx context.Context) error { return nil }

// relayTransport is the queue's transport: recipients of the local
// domains (DSNs to our own senders, mostly) are delivered into the store,
// the others by next (direct to their MX hosts).
type relayTransport struct {
	s    *site
	next smtpqueue.Transport
}

// localDestination names the local destination; it cannot be a domain.
const localDestination = "[local]"

func (t *relayTransport) Destination(rcpt string) string {
	if _, domain, ok := cutLast(rcpt, "@"); ok && t.s.dir.local(domain) {
		return localDestination
	}
	return t.next.Destination(rcpt)
}

func (t *relayTransport) Send(ctx context.Context, env *smtpclient.Envelope, msg smtpclient.Message) []smtpclient.RecipientResult {
	if len(env.To) == 0 || t.Destination(env.To[0]) != localDestination {
		return t.next.Send(ctx, env, msg)
	}
	res := make([]smtpclient.RecipientResult, len(env.To))
	from, _ := smtp.ParseMailbox(env.From)
	for i, rcpt := range env.To {
		res[i].Recipient = rcpt
		to, err := smtp.ParseMailbox(rcpt)
		var name string
		if err == nil {
			name, err = t.s.dir.resolve(to)
		}
		if err != nil {
			res[i].Err = storeReply(err)
			continue
		}
		// A list is delivered when one member got it (as an MX would
		// answer); the others' failures are logged.
		var firstErr error
		ok := false
		for _, acct := range t.s.dir.members(name) {
			hdr := func() []byte { return t.s.deliveredTo(func() []byte { return returnPathField(from) }, acct) }
			r, err := t.s.store.DeliverMessage(ctx, []string{acct}, io.NewSectionReader(msg, 0, msg.Size()), hdr)
			if err == nil && len(r) == 1 {
				err = r[0]
			}
			if err != nil {
				t.s.logger.Warn("queue: local delivery failed", "user", acct, "err", err)
				if firstErr == nil {
					firstErr = err
				}
				continue
			}
			ok = true
		}
		if !ok {
			if firstErr == nil {
				firstErr = errNoSuchUser
			}
			res[i].Err = storeReply(firstErr)
		}
	}
	return res
}
