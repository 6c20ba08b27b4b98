package smtptest

import (
	"strconv"
	"strings"
	"time"

	"github.com/posthorn/posthorn/smtp"
)

// Stage is the point of an SMTP session a Fault applies to.
type Stage int

// The stages a Fault can apply to.
const (
	// AtConnect refuses a new connection with Reply as its greeting (421
	// or 554, RFC 5321 §3.1) and closes it.
	AtConnect Stage = iota + 1
	// AtMail answers MAIL FROM with Reply.
	AtMail
	// AtRcpt answers one RCPT TO with Reply.
	AtRcpt
	// AtData answers the message with Reply after reading it, or with
	// Drop closes the connection in the middle of it, unanswered.
	AtData
)

// Fault changes how the server answers, for testing an application's
// failure paths: a rejection with a chosen reply, a delay, a dropped
// connection. Faults are checked in order; the first that applies wins.
type Fault struct {
	// At is the stage.
	At Stage
	// Reply is the answer, e.g. Reply(550, "5.1.1 no such user"). nil
	// answers normally after Delay (or, with Drop, not at all).
	Reply *smtp.Error
	// Nth applies the fault only to the n-th attempt at its stage,
	// counted from 1 over the server's life (or since Reset); 0 means
	// every attempt.
	Nth int
	// Times applies the fault to the first Times attempts only (fail k
	// times, then succeed: retry logic); 0 means no such limit.
	Times int
	// When, when set, applies the fault only to the attempts it picks.
	When func(*Attempt) bool
	// Delay waits before the reply (or before going on, with Reply nil).
	Delay time.Duration
	// Drop closes the connection instead of answering; at AtData it
	// first reads about half of the message.
	Drop bool
}

// Attempt describes what a Fault's When is asked about.
type Attempt struct {
	Stage Stage
	// N is the attempt's number at its stage, from 1.
	N int
	// From is the reverse path (AtMail and later), To the recipient of an
	// AtRcpt attempt, Recipients those accepted so far.
	From, To   string
	Recipients []string
	// Auth is the authenticated user, "" without AUTH.
	Auth string
}

// Reply makes a reply for a Fault: code is the reply code, text the rest,
// which may start with an enhanced code ("5.1.1 no such user").
func Reply(code int, text string) *smtp.Error {
	e := &smtp.Error{Code: code, Message: text}
	if first, rest, ok := strings.Cut(text, " "); ok || first != "" {
		if ec, ok := parseEnhanced(first); ok {
			e.Enhanced, e.Message = ec, rest
		}
	}
	return e
}

func parseEnhanced(s string) (smtp.EnhancedCode, bool) {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return smtp.EnhancedCode{}, false
	}
	var ec smtp.EnhancedCode
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 999 {
			return smtp.EnhancedCode{}, false
		}
		ec[i] = n
	}
	return ec, ec[0] >= 2 && ec[0] <= 5
}

// applies reports whether f applies to a.
func (f *Fault) applies(a *Attempt) bool {
	switch {
	case f.At != a.Stage:
		return false
	case f.Nth > 0 && a.N != f.Nth:
		return false
	case f.Times > 0 && a.N > f.Times:
		return false
	case f.When != nil && !f.When(a):
		return false
	}
	return true
}
