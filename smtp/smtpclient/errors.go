package smtpclient

import (
	"errors"
	"fmt"
	"strings"
)

// Phase names the step of a submission that an *OpError happened in.
type Phase string

// The phases of a submission, in order.
const (
	PhaseSign     Phase = "sign"     // Submitter.Sign, before anything is sent
	PhaseDial     Phase = "dial"     // connecting (TCP, or a Dialer)
	PhaseTLS      Phase = "tls"      // the implicit-TLS handshake (RFC 8314)
	PhaseGreeting Phase = "greeting" // waiting for the 220 greeting
	PhaseHello    Phase = "ehlo"     // EHLO/LHLO
	PhaseStartTLS Phase = "starttls" // STARTTLS and its handshake
	PhaseAuth     Phase = "auth"     // AUTH
	PhaseMail     Phase = "mail"     // MAIL FROM
	PhaseRcpt     Phase = "rcpt"     // RCPT TO
	PhaseData     Phase = "data"     // DATA or BDAT, the message and its verdict
	PhaseQuit     Phase = "quit"     // QUIT
)

// OpError is the error of a Submitter (and of the package-level Submit):
// the phase that failed, the server, and the cause, which stays reachable
// through errors.As and errors.Is (an *smtp.Error with the server's reply,
// a net.Error, context.DeadlineExceeded, sasl.ErrAuthFailed,
// ErrTLSMismatch, ErrOutcomeUnknown, RecipientErrors, ...).
type OpError struct {
	Phase Phase
	Addr  string // the server, host:port
	Err   error
}

func (e *OpError) Error() string {
	return fmt.Sprintf("smtpclient: %s %s: %v", e.Phase, e.Addr, strings.TrimPrefix(e.Err.Error(), "smtpclient: "))
}

// Unwrap returns the cause.
func (e *OpError) Unwrap() error { return e.Err }

// ErrPartial is matched (errors.Is) by the error of a Send or Submit that
// the server accepted for some recipients and refused for others: see
// PartialError.
var ErrPartial = errors.New("smtpclient: message accepted for some recipients only")

// PartialError is returned by Send and Submit when the message was
// accepted (SMTP) or delivered (LMTP) for some recipients and refused for
// the others, so that a refusal is never lost silently behind a nil error.
// The message went out: do not send it again to Accepted. errors.Is(err,
// ErrPartial) holds; errors.As finds the refusals' *smtp.Error values.
type PartialError struct {
	// Accepted are the recipients the message was accepted for.
	Accepted []string
	// Refused are the other recipients, each with its reply.
	Refused RecipientErrors
}

func (e *PartialError) Error() string {
	return fmt.Sprintf("smtpclient: accepted for %d recipient(s), refused for %d: %s",
		len(e.Accepted), len(e.Refused), strings.TrimPrefix(e.Refused.Error(), "smtpclient: "))
}

// Unwrap returns ErrPartial and the refusals.
func (e *PartialError) Unwrap() []error { return []error{ErrPartial, e.Refused} }

// ErrOutcomeUnknown is matched by the error of a send whose connection
// failed after the end of the message (the final "." or BDAT LAST) was
// written and before the server's verdict arrived. The server may have
// accepted the message and the reply been lost (RFC 5321 §6.1): retrying
// risks a duplicate, not retrying risks a loss. A Submitter never retries
// such a send on its own.
var ErrOutcomeUnknown = errors.New("smtpclient: connection lost after the message was sent; it may have been delivered")

// ErrTLSMismatch is matched when the TLS mode does not fit the port: no
// greeting arrived in time on a plaintext connection (the port likely
// expects implicit TLS, as 465 does), or the server answered an
// implicit-TLS handshake in plaintext (the port likely expects STARTTLS,
// as 587 does). The error's text says which.
var ErrTLSMismatch = errors.New("smtpclient: TLS mode does not match the port")
