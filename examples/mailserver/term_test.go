//go:build linux

package main

import (
	"context"
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

// useradd on a terminal (a pseudo-terminal that Python's pty module
// drives) asks twice and does not echo the password; the account then
// logs in with it.
func TestUseraddOnTerminalDoesNotEcho(t *testing.T) {
	py := testpeer.Python(t)
	dir := t.TempDir()
	bin := buildMailserver(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	conf := filepath.Join(dir, "c.json")
	require.NoError(t, os.WriteFile(conf, []byte(`{"domains": ["example.org"], "data_dir": "`+dir+`"}`), 0o600))

	script := `
import os, pty, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], [sys.argv[1], "useradd", "-config", sys.argv[2], "dave"])
out = b""
def read_until(s):
    global out
    while s not in out:
        try:
            b = os.read(fd, 1024)
        except OSError:
            raise SystemExit("eof before %r: %r" % (s, out))
        if not b:
            raise SystemExit("eof before %r: %r" % (s, out))
        out += b
read_until(b"New password: ")
os.write(fd, b"s3cret-terminal\n")
read_until(b"Again: ")
os.write(fd, b"s3cret-terminal\n")
read_until(b"added dave")
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode().replace("\r", ""))
sys.exit(os.waitstatus_to_exitcode(status))
`
	cmd := exec.CommandContext(ctx, py, "-c", script, bin, conf)
	got, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", got)
	assert.NotContains(t, string(got), "s3cret-terminal", "the password was echoed")
	assert.Contains(t, string(got), "added dave")
	assert.Equal(t, 2, strings.Count(string(got), "password: ")+strings.Count(string(got), "Again: "))

	cfg := defaultConfig()
	require.NoError(t, loadConfigFile(conf, &cfg))
	d, err := newDirectory(cfg.Site, cfg.Site.accountsPath(cfg.Data), nil)
	require.NoError(t, err)
	assert.NoError(t, d.VerifyPassword(context.Background(), "dave", "s3cret-terminal"))
}
