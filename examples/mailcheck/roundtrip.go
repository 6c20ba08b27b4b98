package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/posthorn/posthorn/imap"
	"github.com/posthorn/posthorn/imap/imapclient"
	"github.com/posthorn/posthorn/sasl"
	"github.com/posthorn/posthorn/smtp/smtpclient"
)

// RoundtripOptions configure "roundtrip".
type RoundtripOptions struct {
	From, To string
	// Wait bounds the time to wait for the message to arrive; Poll is the
	// pause between searches.
	Wait, Poll time.Duration
}

// RoundtripResult is the -json detail of a round trip.
type RoundtripResult struct {
	MessageID   string        `json:"message_id"`
	Delay       time.Duration `json:"delay_ns"`
	AuthResults []string      `json:"authentication_results,omitempty"`
}

// CheckRoundtrip submits a test message over SMTP, waits for it over IMAP
// and reports the delay and the Authentication-Results it arrived with.
func CheckRoundtrip(ctx context.Context, env *Env, st, it *LoginTarget, opts RoundtripOptions) *Report {
	r := &Report{Command: "roundtrip", Target: fmt.Sprintf("%s → %s", opts.From, opts.To)}
	var tok [8]byte
	_, _ = rand.Read(tok[:])
	res := &RoundtripResult{MessageID: "<mailcheck." + hex.EncodeToString(tok[:]) + "@mailcheck.invalid>"}
	r.Details = res
	msg := "From: <" + opts.From + ">\r\nTo: <" + opts.To + ">\r\nSubject: mailcheck round trip\r\n" +
		"Date: " + time.Now().Format(time.RFC1123Z) + "\r\nMessage-ID: " + res.MessageID + "\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n" +
		"This message was sent by mailcheck to test delivery. It can be deleted.\r\n"

	sent, ok := roundtripSend(ctx, env, st, r, opts, msg)
	if !ok {
		return r
	}
	roundtripRead(ctx, env, it, r, res, opts, sent)
	return r
}

func stepProblem(r *Report, id, subj, step string, err error) {
	kind, fix := failureKind(err)
	switch {
	case errors.Is(err, sasl.ErrAuthFailed):
		kind, fix = "authentication", "Check the user name and password (an app password, if the provider uses them)."
	case fix == "":
		fix = "Read the server's reply; its log says more."
	}
	r.problem(Error, id, subj, fix, "%s failed (%s): %v", step, kind, err)
}

func dialTarget(ctx context.Context, env *Env, t *LoginTarget) (net.Conn, *tls.Config, error) {
	addr := net.JoinHostPort(t.Host, strconv.Itoa(t.Service.Port))
	conn, err := env.dial(ctx, addr)
	if err != nil {
		return nil, nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	cfg := &tls.Config{ServerName: t.Host, RootCAs: env.RootCAs, MinVersion: tls.VersionTLS12}
	if t.Service.Implicit {
		tc := tls.Client(conn, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, nil, err
		}
		conn = tc
	}
	return conn, cfg, nil
}

func roundtripSend(ctx context.Context, env *Env, t *LoginTarget, r *Report, opts RoundtripOptions, msg string) (time.Time, bool) {
	subj := "send " + subject(t.Service)
	ctx, cancel := context.WithTimeout(ctx, env.timeout())
	defer cancel()
	conn, cfg, err := dialTarget(ctx, env, t)
	if err != nil {
		stepProblem(r, "roundtrip-send", subj, "connecting", err)
		return time.Time{}, false
	}
	defer conn.Close()
	c, err := smtpclient.NewClient(ctx, conn, &smtpclient.Options{TLSConfig: cfg, LocalName: env.HelloName})
	if err == nil && !t.Service.Implicit {
		err = c.StartTLS(ctx, cfg)
	}
	if err == nil {
		err = c.Login(ctx, t.User, t.Password)
	}
	if err != nil {
		stepProblem(r, "roundtrip-send", subj, "logging in", err)
		return time.Time{}, false
	}
	if _, err := c.Send(ctx, &smtpclient.Envelope{From: opts.From, To: []string{opts.To}}, strings.NewReader(msg), int64(len(msg))); err != nil {
		stepProblem(r, "roundtrip-send", subj, "submitting", err)
		return time.Time{}, false
	}
	sent := time.Now()
	_ = c.Quit(ctx)
	r.ok("roundtrip-sent", subj, "submitted as %s to %s", t.User, opts.To)
	return sent, true
}

func roundtripRead(ctx context.Context, env *Env, t *LoginTarget, r *Report, res *RoundtripResult, opts RoundtripOptions, sent time.Time) {
	subj := "read " + subject(t.Service)
	wait := opts.Wait
	if wait <= 0 {
		wait = 2 * time.Minute
	}
	poll := opts.Poll
	if poll <= 0 {
		poll = 2 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, wait+env.timeout())
	defer cancel()
	conn, cfg, err := dialTarget(ctx, env, t)
	if err != nil {
		stepProblem(r, "roundtrip-read", subj, "connecting", err)
		return
	}
	defer conn.Close()
	c, err := imapclient.NewClient(ctx, conn, &imapclient.Options{TLSConfig: cfg})
	if err == nil && !t.Service.Implicit {
		err = c.StartTLS(ctx, cfg)
	}
	if err == nil {
		err = c.Login(ctx, t.User, t.Password)
	}
	if err != nil {
		stepProblem(r, "roundtrip-read", subj, "logging in", err)
		return
	}
	defer c.Close()
	if _, err := c.Select(ctx, "INBOX", &imapclient.SelectOptions{ReadOnly: true}); err != nil {
		stepProblem(r, "roundtrip-read", subj, "opening INBOX", err)
		return
	}
	crit := &imap.SearchCriteria{Keys: []imap.SearchKey{{Op: imap.SearchHeader, Field: "Message-ID", Value: strings.Trim(res.MessageID, "<>")}}}
	deadline := sent.Add(wait)
	for {
		sd, err := c.UIDSearch(ctx, crit)
		if err != nil {
			stepProblem(r, "roundtrip-read", subj, "searching", err)
			return
		}
		if len(sd.Nums) > 0 {
			uid := imap.NumSetOf(sd.Nums[0])
			res.Delay = time.Since(sent)
			sec := &imap.FetchSection{Peek: true, Specifier: imap.PartHeaderFields, Fields: []string{"Authentication-Results"}}
			msgs, err := c.UIDFetch(ctx, uid, []imap.FetchAtt{{Item: imap.FetchBodySection, Section: sec}}, nil).Collect()
			if err == nil && len(msgs) > 0 {
				res.AuthResults = unfoldFields(msgs[0].Section(sec))
			}
			r.ok("roundtrip-delivered", subj, "arrived in INBOX after %s", res.Delay.Round(time.Millisecond))
			for _, ar := range res.AuthResults {
				if authResultsFailed(ar) {
					r.problem(Warn, "roundtrip-auth-fail", subj, "Fix the failing SPF/DKIM/DMARC check named here (see \"mailcheck domain\"): receivers may reject or junk such mail.",
						"%s", ar)
				} else {
					r.info("roundtrip-auth-results", subj, "%s", ar)
				}
			}
			_ = c.Logout(ctx)
			return
		}
		if time.Now().After(deadline) {
			r.problem(Error, "roundtrip-not-delivered", subj, "Look in the Junk folder and the sending server's log (queue, bounces) for "+res.MessageID+".",
				"the message did not arrive in INBOX within %s", wait)
			return
		}
		select {
		case <-ctx.Done():
			stepProblem(r, "roundtrip-read", subj, "waiting", ctx.Err())
			return
		case <-time.After(poll):
		}
	}
}

// authResultsFailed reports whether an Authentication-Results field has a
// method result of fail, softfail or permerror (RFC 8601 §2.7).
func authResultsFailed(field string) bool {
	low := strings.ToLower(field)
	for _, bad := range []string{"=fail", "=softfail", "=permerror"} {
		if strings.Contains(low, bad) {
			return true
		}
	}
	return false
}

// unfoldFields splits a header block into unfolded fields (RFC 5322 §2.2.3).
func unfoldFields(b []byte) []string {
	var out []string
	for _, line := range strings.Split(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n") {
		switch {
		case line == "":
		case (line[0] == ' ' || line[0] == '\t') && len(out) > 0:
			out[len(out)-1] += " " + strings.TrimSpace(line)
		default:
			out = append(out, line)
		}
	}
	return out
}

func runRoundtrip(ctx context.Context, fs *flag.FlagSet, c *common, args []string, stdin io.Reader, stderr io.Writer) (*Report, error) {
	from := fs.String("from", "", "sender address (default: the SMTP user, when it is an address)")
	to := fs.String("to", "", "recipient address (default: the sender)")
	wait := fs.Duration("wait", 2*time.Minute, "how long to wait for the message to arrive")
	pwFile := fs.String("password-file", "", "read the password (used for both logins) from this file (else MAILCHECK_PASSWORD, else the terminal without echo)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() != 2 {
		return nil, errors.New("usage: mailcheck roundtrip [flags] smtp://user@host imap://user@host")
	}
	st, err := ParseLoginURL(fs.Arg(0))
	if err != nil {
		return nil, err
	}
	it, err := ParseLoginURL(fs.Arg(1))
	if err != nil {
		return nil, err
	}
	if st.Service.Proto != "smtp" || it.Service.Proto != "imap" {
		return nil, errors.New("roundtrip: the first URL must be smtp:// or submissions://, the second imap:// or imaps://")
	}
	if *from == "" {
		*from = st.User
		if !strings.Contains(*from, "@") {
			return nil, errors.New("roundtrip: -from is needed when the SMTP user is not an address")
		}
	}
	if *to == "" {
		*to = *from
	}
	env, err := c.env()
	if err != nil {
		return nil, err
	}
	if st.Password == "" || it.Password == "" {
		pw, err := readPassword(*pwFile, stdin, stderr)
		if err != nil {
			return nil, err
		}
		if st.Password == "" {
			st.Password = pw
		}
		if it.Password == "" {
			it.Password = pw
		}
	}
	return CheckRoundtrip(ctx, env, st, it, RoundtripOptions{From: *from, To: *to, Wait: *wait}), nil
}
