package main

// Abuse limits: what slows and stops password guessing, and what caps the
// mail one account can submit.
//
// Authentication. One limiter (internal/limit) is shared by the four
// servers, so failures over IMAP count against SMTP too. It counts
// failures per client network (an IPv4 address, an IPv6 /64) and per
// account. Before the credentials of an attempt are checked, whatever
// they turn out to be, the attempt waits: nothing for the first 3
// failures, then 1 s doubling up to -auth-max-delay (3 s) per network and
// 2 s per account. The delay is short on purpose: a right password from a
// penalised address waits too, and everyone behind one NAT shares the
// address; what stops a guesser is the block. Past -auth-block-after
// failures (10; one is forgotten per minute) the network is blocked for
// -auth-block-for (15 minutes): its attempts fail at once, without a
// credential check, with a temporary error (SMTP 454 4.7.0, IMAP NO
// [UNAVAILABLE], POP3 -ERR [SYS/TEMP]) so that mail clients do not ask
// for the password again. An account is blocked the same way past
// -auth-user-block-after failures (30) from anywhere.
//
// The trade-off, for the operator to choose: a network block shuts out
// everyone behind that address (an office NAT, a carrier-grade NAT), and
// an account block lets anyone lock that account out on purpose by
// failing 30 times. Lower thresholds stop guessing sooner and lock out
// more innocents; -auth-user-block-after 0 turns account blocks off
// (leaving the 2 s delay), -auth-block-after 0 network blocks. "mailserver
// unblock ADDRESS|CIDR|USER" lifts a block early; the logs (event=login
// result=refused) and metrics (posthorn_auth_blocks,
// posthorn_logins_total{result="refused"}) show them.
//
// The account is known before the check when the protocol names it (IMAP
// LOGIN, POP3 USER and APOP) and, for SASL (AUTH in SMTP, AUTHENTICATE in
// IMAP, AUTH in POP3), when the mechanism asks the store for it
// (guardedCredentials below): the account's delay and block apply there.
//
// Submission. Each account may send to -max-rcpts-per-hour recipients
// (200) and -max-msgs-per-day messages (500), counted over sliding
// windows of accepted messages. Past the hourly recipients RCPT is
// answered 451 4.7.1: temporary (RFC 5321 §4.2.5), a policy refusal (RFC
// 3463 §3.8, X.7.1 "delivery not authorized"); the client may retry when
// the hour has moved on. Past the daily messages MAIL is answered 550
// 5.7.1: a retry within minutes cannot succeed, so the user is told now
// rather than by a bounce a day later. Both are logged (event=limit) and
// counted (posthorn_submission_limited_total).

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"sync"
	"time"

	"github.com/posthorn/posthorn/internal/limit"
	"github.com/posthorn/posthorn/sasl"
	"github.com/posthorn/posthorn/smtp"
	"github.com/posthorn/posthorn/smtp/smtpserver"
)

// abuseConfig is what the abuse flags set.
type abuseConfig struct {
	AuthMaxDelay       time.Duration
	AuthBlockAfter     int
	AuthUserBlockAfter int
	AuthBlockFor       time.Duration
	RcptsPerHour       int
	MsgsPerDay         int
}

func defaultAbuseConfig() abuseConfig {
	return abuseConfig{
		AuthMaxDelay:       3 * time.Second,
		AuthBlockAfter:     10,
		AuthUserBlockAfter: 30,
		AuthBlockFor:       15 * time.Minute,
		RcptsPerHour:       200,
		MsgsPerDay:         500,
	}
}

func abuseFlags(fs *flag.FlagSet, a *abuseConfig) {
	fs.DurationVar(&a.AuthMaxDelay, "auth-max-delay", a.AuthMaxDelay, "longest delay before a login attempt from an address with failures (taken before the check, right password or not)")
	fs.IntVar(&a.AuthBlockAfter, "auth-block-after", a.AuthBlockAfter, "block an address after this many authentication failures (one forgotten per minute; 0: never)")
	fs.IntVar(&a.AuthUserBlockAfter, "auth-user-block-after", a.AuthUserBlockAfter, "block an account after this many authentication failures from anywhere (0: never)")
	fs.DurationVar(&a.AuthBlockFor, "auth-block-for", a.AuthBlockFor, "how long a block lasts (mailserver unblock lifts one early)")
	fs.IntVar(&a.RcptsPerHour, "max-rcpts-per-hour", a.RcptsPerHour, "recipients one account may submit to per hour (0: no limit)")
	fs.IntVar(&a.MsgsPerDay, "max-msgs-per-day", a.MsgsPerDay, "messages one account may submit per day (0: no limit)")
}

// abuse is the running server's limiter and submission counters.
type abuse struct {
	cfg abuseConfig
	lim *limit.AuthLimiter
	o   *ops
	now func() time.Time

	mu    sync.Mutex
	sends map[string]*sendLog // by account
}

// sendLog is one account's accepted submissions within the last day.
type sendLog struct {
	events []sendEvent // oldest first
}

type sendEvent struct {
	at    time.Time
	rcpts int
}

func newAbuse(cfg abuseConfig, o *ops) *abuse {
	a := &abuse{cfg: cfg, o: o, now: time.Now, sends: map[string]*sendLog{}}
	a.lim = limit.NewAuthLimiter(limit.AuthLimits{
		MaxDelay:       cfg.AuthMaxDelay,
		BlockAfter:     cfg.AuthBlockAfter,
		UserBlockAfter: cfg.AuthUserBlockAfter,
		BlockFor:       cfg.AuthBlockFor,
	})
	return a
}

// usage returns the recipients of the account's accepted messages in the
// last hour and its messages in the last day, dropping older events.
// a.mu is held.
func (a *abuse) usage(account string, now time.Time) (rcptsHour, msgsDay int) {
	l := a.sends[account]
	if l == nil {
		return 0, 0
	}
	i := 0
	for i < len(l.events) && now.Sub(l.events[i].at) >= 24*time.Hour {
		i++
	}
	l.events = l.events[i:]
	if len(l.events) == 0 {
		delete(a.sends, account)
		return 0, 0
	}
	for _, e := range l.events {
		if now.Sub(e.at) < time.Hour {
			rcptsHour += e.rcpts
		}
	}
	return rcptsHour, len(l.events)
}

// checkMail refuses a new transaction past the daily messages.
func (a *abuse) checkMail(account string) error {
	if a.cfg.MsgsPerDay <= 0 {
		return nil
	}
	a.mu.Lock()
	_, msgs := a.usage(account, a.now())
	a.mu.Unlock()
	if msgs >= a.cfg.MsgsPerDay {
		a.limited(account, "messages_per_day", msgs)
		return &smtp.Error{Code: 550, Enhanced: smtp.EnhancedCode{5, 7, 1},
			Message: fmt.Sprintf("Daily limit of %d messages reached for this account; try again tomorrow", a.cfg.MsgsPerDay)}
	}
	return nil
}

// checkRcpt refuses a recipient past the hourly recipients; pending is
// the recipients the transaction has already.
func (a *abuse) checkRcpt(account string, pending int) error {
	if a.cfg.RcptsPerHour <= 0 {
		return nil
	}
	a.mu.Lock()
	rcpts, _ := a.usage(account, a.now())
	a.mu.Unlock()
	if rcpts+pending >= a.cfg.RcptsPerHour {
		a.limited(account, "recipients_per_hour", rcpts+pending)
		return &smtp.Error{Code: 451, Enhanced: smtp.EnhancedCode{4, 7, 1},
			Message: fmt.Sprintf("Hourly limit of %d recipients reached for this account; try again later", a.cfg.RcptsPerHour)}
	}
	return nil
}

// sent records an accepted message.
func (a *abuse) sent(account string, rcpts int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	l := a.sends[account]
	if l == nil {
		l = &sendLog{}
		a.sends[account] = l
	}
	l.events = append(l.events, sendEvent{at: a.now(), rcpts: rcpts})
	// Bounded: the limits refuse more than MsgsPerDay events a day; with
	// no daily limit keep the last day's hour only.
	if a.cfg.MsgsPerDay <= 0 {
		a.usage(account, a.now().Add(23*time.Hour))
	}
}

func (a *abuse) limited(account, which string, n int) {
	a.o.m.add("posthorn_submission_limited_total", 1, which)
	a.o.log.Warn("submission limit reached", "event", "limit", "user", account, "limit", which, "count", n)
}

// limitedBackend wraps submission's Backend with the per-account limits.
type limitedBackend struct {
	smtpserver.Backend
	a *abuse
}

func (b limitedBackend) NewSession(ctx context.Context, c *smtpserver.ConnInfo) (smtpserver.Session, error) {
	s, err := b.Backend.NewSession(ctx, c)
	if err != nil {
		return nil, err
	}
	return &limitedSession{Session: s, a: b.a, c: c}, nil
}

// limitedSession counts one account's transaction.
type limitedSession struct {
	smtpserver.Session
	a     *abuse
	c     *smtpserver.ConnInfo
	rcpts int
}

func (s *limitedSession) account() string {
	if s.c.Identity == nil {
		return ""
	}
	return s.c.Identity.Username
}

// Authenticated passes the identity on to the wrapped session.
func (s *limitedSession) Authenticated(ctx context.Context, id sasl.Identity) error {
	if as, ok := s.Session.(smtpserver.AuthSession); ok {
		return as.Authenticated(ctx, id)
	}
	return nil
}

func (s *limitedSession) Mail(ctx context.Context, from smtp.Mailbox, opts *smtp.MailOptions) error {
	s.rcpts = 0
	if acct := s.account(); acct != "" {
		if err := s.a.checkMail(acct); err != nil {
			return err
		}
	}
	return s.Session.Mail(ctx, from, opts)
}

func (s *limitedSession) Rcpt(ctx context.Context, to smtp.Mailbox, opts *smtp.RcptOptions) error {
	if acct := s.account(); acct != "" {
		if err := s.a.checkRcpt(acct, s.rcpts); err != nil {
			return err
		}
	}
	if err := s.Session.Rcpt(ctx, to, opts); err != nil {
		return err
	}
	s.rcpts++
	return nil
}

func (s *limitedSession) Data(ctx context.Context, r io.Reader) error {
	err := s.Session.Data(ctx, r)
	if err == nil && s.account() != "" {
		s.a.sent(s.account(), s.rcpts)
	}
	s.rcpts = 0
	return err
}

func (s *limitedSession) Reset(ctx context.Context) {
	s.rcpts = 0
	s.Session.Reset(ctx)
}

// guardedCredentials puts the account's delay and block of the shared
// limiter in front of the store's SASL lookups: SASL learns the account
// only inside the exchange, and this is the moment before its credentials
// are checked. A blocked account gets the *limit.BlockedError, which the
// sasl package passes through as a temporary failure. Only the lookups
// the mechanisms the server offers use are guarded (PLAIN and LOGIN
// through VerifyPassword or the SCRAM keys, SCRAM through LookupSCRAM);
// the failures themselves are counted by the servers.
type guardedCredentials struct {
	inner any
	lim   *limit.AuthLimiter
}

// guardCredentials returns creds behind the limiter, implementing what
// creds implements of sasl.PasswordVerifier, sasl.SCRAMLookup and
// sasl.SecretLookup.
func guardCredentials(creds any, lim *limit.AuthLimiter) any {
	g := guardedCredentials{inner: creds, lim: lim}
	_, pv := creds.(sasl.PasswordVerifier)
	_, sl := creds.(sasl.SCRAMLookup)
	_, sec := creds.(sasl.SecretLookup)
	switch {
	case pv && sl && sec:
		return guardedAll{g}
	case pv && sl:
		return guardedPwSCRAM{g}
	case sl:
		return guardedSCRAM{g}
	case pv:
		return guardedPw{g}
	}
	return creds
}

// wait is the account's turn: its delay, or its block.
func (g guardedCredentials) wait(ctx context.Context, user string) error {
	// The network was waited for by the server already; the zero
	// address counts the account alone.
	return g.lim.Wait(ctx, netip.Addr{}, user)
}

func (g guardedCredentials) verifyPassword(ctx context.Context, user, pass string) error {
	if err := g.wait(ctx, user); err != nil {
		return err
	}
	return g.inner.(sasl.PasswordVerifier).VerifyPassword(ctx, user, pass)
}

func (g guardedCredentials) lookupSCRAM(ctx context.Context, user string, h sasl.SCRAMHash) (sasl.SCRAMKeys, error) {
	if err := g.wait(ctx, user); err != nil {
		return sasl.SCRAMKeys{}, err
	}
	return g.inner.(sasl.SCRAMLookup).LookupSCRAM(ctx, user, h)
}

type guardedPw struct{ g guardedCredentials }

func (c guardedPw) VerifyPassword(ctx context.Context, u, p string) error {
	return c.g.verifyPassword(ctx, u, p)
}

type guardedSCRAM struct{ g guardedCredentials }

func (c guardedSCRAM) LookupSCRAM(ctx context.Context, u string, h sasl.SCRAMHash) (sasl.SCRAMKeys, error) {
	return c.g.lookupSCRAM(ctx, u, h)
}

type guardedPwSCRAM struct{ g guardedCredentials }

func (c guardedPwSCRAM) VerifyPassword(ctx context.Context, u, p string) error {
	return c.g.verifyPassword(ctx, u, p)
}

func (c guardedPwSCRAM) LookupSCRAM(ctx context.Context, u string, h sasl.SCRAMHash) (sasl.SCRAMKeys, error) {
	return c.g.lookupSCRAM(ctx, u, h)
}

type guardedAll struct{ g guardedCredentials }

func (c guardedAll) VerifyPassword(ctx context.Context, u, p string) error {
	return c.g.verifyPassword(ctx, u, p)
}

func (c guardedAll) LookupSCRAM(ctx context.Context, u string, h sasl.SCRAMHash) (sasl.SCRAMKeys, error) {
	return c.g.lookupSCRAM(ctx, u, h)
}

// LookupSecret serves CRAM-MD5 and APOP.
func (c guardedAll) LookupSecret(ctx context.Context, u string) (string, error) {
	if err := c.g.wait(ctx, u); err != nil {
		return "", err
	}
	return c.g.inner.(sasl.SecretLookup).LookupSecret(ctx, u)
}
