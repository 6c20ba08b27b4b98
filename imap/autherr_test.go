package imap

import (
	"errors"
	"fmt"
	"testing"

	"github.com/posthorn/posthorn/sasl"
)

// A wrong password matches sasl.ErrAuthFailed in all three clients; a
// temporary refusal does not (RFC 5530 §3).
func TestErrorIsAuthFailed(t *testing.T) {
	wrong := fmt.Errorf("login: %w", NoError(CodeAuthenticationFailed, "Authentication failed."))
	if !errors.Is(wrong, sasl.ErrAuthFailed) {
		t.Errorf("%v does not match", wrong)
	}
	for _, e := range []*Error{NoError(CodeUnavailable, "try later"), NoError("", "failed"), BadError(CodeAuthenticationFailed, "x")} {
		if errors.Is(e, sasl.ErrAuthFailed) {
			t.Errorf("%v matches sasl.ErrAuthFailed", e)
		}
	}
}
