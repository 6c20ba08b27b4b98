// Package testpeer starts real third-party mail programs for posthorn's
// interoperability tests: Python's standard library, Dovecot, Postfix and
// the command-line clients (swaks, curl, msmtp, mpop, fetchmail, mbsync).
//
// Every peer runs privately: its configuration is written under the test's
// t.TempDir(), it listens on free ports of 127.0.0.1 chosen for that test,
// and it is stopped in t.Cleanup. A test whose program is not installed is
// skipped with a message naming the Debian package that provides it, so
// `go test ./...` works on a bare machine, and CI (whose .ci/run installs
// every package) skips nothing. Set POSTHORN_REQUIRE_PEERS=1 to turn those
// skips into failures, as .ci/run does.
//
// Implementation notes:
//
//   - Dovecot and Postfix are started by the shell scripts embedded from
//     scripts/ (the project's own copies of the scripts in shared/peers). The
//     scripts never install anything here: testpeer checks for the programs
//     first and skips when they are missing.
//   - Ports are found by listening on 127.0.0.1:0 and closing again. Another
//     process can take a port in between; the scripts refuse busy ports, and
//     the start is retried with new ports once.
//   - Daemons never inherit a pipe of ours (the scripts redirect them), so
//     reading a script's output returns as soon as the script exits.
package testpeer

import (
	"bytes"
	"context"
	"crypto/x509"
	_ "embed"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

//go:embed scripts/dovecot.sh
var dovecotScript []byte

//go:embed scripts/postfix.sh
var postfixScript []byte

// Required reports whether missing peers must fail tests instead of
// skipping them (POSTHORN_REQUIRE_PEERS=1, set by .ci/run).
func Required() bool { return os.Getenv("POSTHORN_REQUIRE_PEERS") == "1" }

// skip skips the test, or fails it when peers are required.
func skip(t testing.TB, format string, args ...any) {
	t.Helper()
	if Required() {
		t.Fatalf("peer required by POSTHORN_REQUIRE_PEERS=1: "+format, args...)
	}
	t.Skipf(format, args...)
}

// Need returns the path of program, or skips the test with a message naming
// the Debian package that provides it.
func Need(t testing.TB, program, debianPackage string) string {
	t.Helper()
	p, err := exec.LookPath(program)
	if err != nil {
		skip(t, "%s not installed (Debian package %s)", program, debianPackage)
	}
	return p
}

// Python returns the path of a python3 interpreter, or skips the test. It
// prefers Debian's /usr/bin/python3, the one .ci/run installs.
func Python(t testing.TB) string {
	t.Helper()
	if _, err := os.Stat("/usr/bin/python3"); err == nil {
		return "/usr/bin/python3"
	}
	return Need(t, "python3", "python3")
}

// RunPython runs script with python3 -c and returns its standard output. The
// test fails, showing standard error, if the script exits non-zero or runs
// longer than two minutes. env entries (KEY=value) are added to the
// environment.
func RunPython(t testing.TB, script string, env ...string) []byte {
	t.Helper()
	out, err := RunPythonErr(t, script, env...)
	if err != nil {
		t.Fatalf("python3: %v", err)
	}
	return out
}

// RunPythonErr is RunPython that returns the failure instead of failing the
// test; the error includes the script's standard error.
func RunPythonErr(t testing.TB, script string, env ...string) ([]byte, error) {
	t.Helper()
	py := Python(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, "-c", script)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("%w\nstderr:\n%s", err, stderr.Bytes())
	}
	return stdout.Bytes(), nil
}

// Run runs a peer program with a two-minute limit and returns its combined
// output and error. Use it for command-line clients (swaks, curl, msmtp, …)
// whose failure the test wants to inspect.
func Run(t testing.TB, program string, args ...string) ([]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, program, args...)
	cmd.Stdin = nil
	return cmd.CombinedOutput()
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ports := freePorts(t, 1)
	return ports[0]
}

func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("free port: %v", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// scriptDir writes the embedded scripts once per process into a private
// folder and returns it.
var scriptDir = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "posthorn-testpeer-")
	if err != nil {
		return "", err
	}
	for name, body := range map[string][]byte{"dovecot.sh": dovecotScript, "postfix.sh": postfixScript} {
		if err := os.WriteFile(filepath.Join(dir, name), body, 0o755); err != nil {
			return "", err
		}
	}
	return dir, nil
})

// runScript runs one of the embedded scripts with extra environment.
func runScript(t testing.TB, name string, env []string, args ...string) ([]byte, error) {
	t.Helper()
	dir, err := scriptDir()
	if err != nil {
		t.Fatalf("testpeer: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(dir, name), args...)
	cmd.Env = append(os.Environ(), env...)
	return cmd.CombinedOutput()
}

// loadRoots reads a PEM certificate file into a pool.
func loadRoots(t testing.TB, certFile string) *x509.CertPool {
	t.Helper()
	pem, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatalf("testpeer: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("testpeer: no certificate in %s", certFile)
	}
	return pool
}

func addr(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }
