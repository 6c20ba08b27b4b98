//go:build unix

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// buildMailserver builds the program into dir.
func buildMailserver(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "mailserver")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "%s", out)
	return bin
}

// The program as an operator runs it: useradd from a pipe, then the
// server with -config and a flag that overrides the file, JSON logs,
// SIGHUP reloads, SIGTERM stops it cleanly.
func TestBinaryWithConfig(t *testing.T) {
	dir := t.TempDir()
	bin := buildMailserver(t, dir)
	conf := filepath.Join(dir, "mailserver.json")
	require.NoError(t, os.WriteFile(conf, []byte(`{
  "hostname": "file.example", "domains": ["example.org"], "data_dir": "`+dir+`/data",
  "listen": {"smtp": "127.0.0.1:0", "submission": "127.0.0.1:0", "submissions": "",
             "imap": "", "imaps": "127.0.0.1:0", "pop3": "", "pop3s": ""},
  "log": {"format": "json"}
}`), 0o600))

	add := exec.Command(bin, "useradd", "-config", conf, "alice")
	add.Stdin = strings.NewReader("alice-password\n")
	out, err := add.CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "added alice")

	out, err = exec.Command(bin, "check-config", "-config", conf).CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "ok (1 domains, 0 aliases, 1 accounts)")

	out, err = exec.Command(bin, "-config", conf, "-domain", "other.example").CombinedOutput()
	assert.Error(t, err)
	assert.Contains(t, string(out), "-domain does not go with -config")

	cmd := exec.Command(bin, "-config", conf, "-hostname", "flag.example", "-metrics", "127.0.0.1:0")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })

	logs := make(chan map[string]any, 100)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) != nil {
				m = map[string]any{"not-json": sc.Text()}
			}
			logs <- m
		}
		close(logs)
	}()
	addrs := map[string]string{}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && (f[0] == "smtp" || f[0] == "submission" || f[0] == "imaps" || f[0] == "submissions") {
			addrs[f[0]] = f[1]
		}
		if len(f) > 0 && f[0] == "dns" {
			assert.Equal(t, []string{"dns", "mailserver", "dns-records", "-config", conf}, f)
			break
		}
	}
	go io.Copy(io.Discard, stdout)
	require.Contains(t, addrs, "smtp")
	require.Contains(t, addrs, "imaps")
	assert.NotContains(t, addrs, "submissions", `"" turns a listener off`)

	c, err := net.DialTimeout("tcp", addrs["smtp"], 5*time.Second)
	require.NoError(t, err)
	greeting, err := bufio.NewReader(c).ReadString('\n')
	c.Close()
	require.NoError(t, err)
	assert.Contains(t, greeting, "flag.example", "the flag overrides the file's hostname")

	require.NoError(t, cmd.Process.Signal(syscall.SIGHUP))
	waitLog := func(want string) {
		t.Helper()
		deadline := time.After(20 * time.Second)
		for {
			select {
			case m, ok := <-logs:
				require.True(t, ok, "stderr closed before %q", want)
				_, notJSON := m["not-json"]
				assert.False(t, notJSON, "a log line that is not JSON: %v", m)
				if msg, _ := m["msg"].(string); strings.Contains(msg, want) {
					return
				}
			case <-deadline:
				t.Fatalf("no log %q", want)
			}
		}
	}
	waitLog("SIGHUP: accounts reloaded")
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	done := make(chan error, 1)
	go func() {
		for range logs {
		}
		done <- cmd.Wait()
	}()
	select {
	case err := <-done:
		assert.NoError(t, err, "exit after SIGTERM")
	case <-time.After(60 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
}
