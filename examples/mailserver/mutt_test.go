package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/testpeer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// muttSend sends one message with program (mutt or neomutt, both built
// on libgsasl in Debian) through the server's submission port with
// implicit TLS and SMTP AUTH, letting the client pick the mechanism.
func muttSend(t *testing.T, program string, ts *testSite, subject string) ([]byte, error) {
	t.Helper()
	home := t.TempDir()
	rc := filepath.Join(home, "muttrc")
	cert := ts.certFile
	conf := fmt.Sprintf(`set smtp_url = "smtps://alice@%s/"
set smtp_pass = "alice-password"
set from = "alice@example.org"
set use_from = yes
set realname = "Alice"
set ssl_ca_certificates_file = "%s"
set certificate_file = "%s/certificates"
set record = ""
set copy = no
set folder = "%s"
set spoolfile = ""
set header_cache = ""
`, ts.addrs["submissions"], cert, home, home)
	require.NoError(t, os.WriteFile(rc, []byte(conf), 0o600))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, program, "-n", "-F", rc, "-s", subject, "--", "bob@example.org")
	cmd.Env = append(os.Environ(), "HOME="+home, "TERM=dumb", "LC_ALL=C.UTF-8")
	cmd.Stdin = strings.NewReader("sent by " + program + "\n")
	cmd.Dir = home
	return cmd.CombinedOutput()
}

// NeoMutt 2022 and Mutt 2.2, through libgsasl, take SCRAM-SHA-256-PLUS
// whenever it is offered and fail (issue 19); the server therefore does
// not offer -PLUS unless "scram_plus" is set. Both send through
// submission with SMTP AUTH, and the message arrives.
func TestMuttAndNeoMuttSubmit(t *testing.T) {
	for _, program := range []string{"neomutt", "mutt"} {
		t.Run(program, func(t *testing.T) {
			testpeer.Need(t, program, program)
			ts := startConfigured(t, testSiteConfig, nil)
			out, err := muttSend(t, program, ts, "via "+program)
			require.NoError(t, err, "%s", out)
			msgs := ts.readMailbox(t, "bob", "INBOX")
			require.Len(t, msgs, 1)
			assert.Contains(t, msgs[0], "Subject: via "+program)
			assert.Contains(t, msgs[0], "DKIM-Signature: ")
			assert.Contains(t, msgs[0], "sent by "+program)

			// What the default avoids: with -PLUS offered, the client's
			// outcome is logged for the record (libgsasl versions differ).
			ts2 := startConfigured(t, testSiteConfig, func(c *config) { c.ScramPlus = true })
			out, err = muttSend(t, program, ts2, "plus")
			n := len(ts2.readMailbox(t, "bob", "INBOX"))
			t.Logf("%s with SCRAM-SHA-256-PLUS offered: err=%v, delivered=%d, output: %s", program, err, n, out)
		})
	}
}
