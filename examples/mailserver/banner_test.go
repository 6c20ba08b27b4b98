package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/posthorn/posthorn/internal/testpeer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The commands the banner prints work as pasted into a shell: curl
// submits a message over submission with STARTTLS and reads it back over
// IMAP and POP3, trusting the printed certificate (in a data directory
// whose path has a space, so the quoting is tested too), and swaks
// delivers to the MX.
func TestMailserverBannerCommandsWork(t *testing.T) {
	testpeer.Need(t, "curl", "curl")
	testpeer.Need(t, "swaks", "swaks")
	cfg := defaultConfig()
	cfg.Data = filepath.Join(t.TempDir(), "my data")
	_, banner, _ := runOnce(t, cfg)

	var cmds []string
	in := false
	for _, line := range strings.Split(banner, "\n") {
		switch {
		case strings.HasPrefix(line, "  try:"):
			in = true
			line = strings.TrimPrefix(line, "  try:")
		case in && !strings.HasPrefix(line, "            "):
			in = false
		}
		if in {
			cmds = append(cmds, strings.TrimSpace(line))
		}
	}
	require.Len(t, cmds, 4, banner)
	run := func(cmd string) string {
		t.Helper()
		out, err := testpeer.Run(t, "sh", "-c", cmd)
		require.NoError(t, err, "%s\n%s", cmd, out)
		return string(out)
	}
	assert.True(t, strings.HasPrefix(cmds[0], "printf "), cmds[0])
	run(cmds[0])
	for _, cmd := range cmds[1:3] {
		out := run(cmd)
		assert.Contains(t, out, "Subject: hello", cmd)
		assert.Contains(t, out, "first mail", cmd)
		// Submission signed it: the banner's account sent it.
		assert.Contains(t, out, "DKIM-Signature:", cmd)
	}
	assert.Contains(t, run(cmds[3]), "250 ")
}
