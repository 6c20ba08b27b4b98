package pop3

import (
	"errors"
	"testing"

	"github.com/posthorn/posthorn/sasl"
)

// -ERR [AUTH] matches sasl.ErrAuthFailed, as the SMTP and IMAP clients'
// equivalents do; temporary refusals do not.
func TestErrorIsAuthFailed(t *testing.T) {
	if err := error(&Error{Code: CodeAuth, Text: "bad password"}); !errors.Is(err, sasl.ErrAuthFailed) {
		t.Errorf("%v does not match", err)
	}
	for _, e := range []*Error{{Code: CodeSysTemp}, {Code: CodeInUse}, {Text: "no"}} {
		if errors.Is(e, sasl.ErrAuthFailed) {
			t.Errorf("%v matches sasl.ErrAuthFailed", e)
		}
	}
}
