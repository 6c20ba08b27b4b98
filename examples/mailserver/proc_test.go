package main

// Tests on the built program, as an operator runs it: signals, kill -9,
// restarts on the same data directory.

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var build struct {
	once sync.Once
	dir  string
	path string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if build.dir != "" {
		os.RemoveAll(build.dir)
	}
	os.Exit(code)
}

// binary builds the program once per test run.
func binary(t *testing.T) string {
	t.Helper()
	build.once.Do(func() {
		build.dir, build.err = os.MkdirTemp("", "mailserver-test-")
		if build.err != nil {
			return
		}
		build.path = filepath.Join(build.dir, "mailserver")
		out, err := exec.Command("go", "build", "-race", "-o", build.path, ".").CombinedOutput()
		if err != nil {
			build.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	require.NoError(t, build.err)
	return build.path
}

// proc is a running server process.
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	addrs  map[string]string
	cert   string
	stderr *lockedBuffer
	done   chan error
}

// startProc runs the built program on data with every listener on a
// free port, the demo account's password demo-pw, and extra flags.
func startProc(t *testing.T, data string, extra ...string) *proc {
	t.Helper()
	args := []string{"-data", data, "-password", "demo-pw", "-web", "", "-metrics", "127.0.0.1:0"}
	for _, f := range []string{"smtp", "submission", "submissions", "imap", "imaps", "pop3", "pop3s"} {
		args = append(args, "-"+f, "127.0.0.1:0")
	}
	cmd := exec.Command(binary(t), append(args, extra...)...)
	p := &proc{t: t, cmd: cmd, addrs: map[string]string{}, stderr: &lockedBuffer{}, done: make(chan error, 1)}
	cmd.Stderr = p.stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	go func() {
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.done
		p.done <- nil
	})
	banner := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(out)
		sent := false
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) >= 2 {
				switch f[0] {
				case "cert":
					p.cert = f[1]
				case "smtp", "submission", "submissions", "imap", "imaps", "pop3", "pop3s":
					p.addrs[f[0]] = f[1]
				case "metrics":
					p.addrs[f[0]] = strings.TrimSuffix(strings.TrimPrefix(f[1], "http://"), "/metrics")
				case "dkim":
					// The line after the listeners: the banner is complete.
					if !sent {
						banner <- nil
						sent = true
					}
				}
			}
		}
		if !sent {
			banner <- fmt.Errorf("no banner; stderr:\n%s", p.stderr.String())
		}
		io.Copy(io.Discard, out)
	}()
	select {
	case err := <-banner:
		require.NoError(t, err)
	case <-time.After(60 * time.Second):
		t.Fatalf("no banner after 60s; stderr:\n%s", p.stderr.String())
	}
	return p
}

// signal sends sig and returns.
func (p *proc) signal(sig os.Signal) {
	p.t.Helper()
	require.NoError(p.t, p.cmd.Process.Signal(sig))
}

// wait waits for the process to exit and returns its error.
func (p *proc) wait(timeout time.Duration) error {
	p.t.Helper()
	select {
	case err := <-p.done:
		p.done <- err // for Cleanup
		return err
	case <-time.After(timeout):
		p.t.Fatalf("still running after %v; stderr:\n%s", timeout, p.stderr.String())
		return nil
	}
}

// waitLog waits until the process logged s.
func (p *proc) waitLog(s string) {
	p.t.Helper()
	require.Eventually(p.t, func() bool { return strings.Contains(p.stderr.String(), s) }, 30*time.Second, 5*time.Millisecond,
		"waiting for %q in the log", s)
}

// smtpConn is a plain SMTP client connection.
type smtpConn struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dialMX(t *testing.T, addr string) *smtpConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(120 * time.Second))
	s := &smtpConn{t: t, c: c, br: bufio.NewReader(c)}
	require.True(t, strings.HasPrefix(s.reply(), "220"))
	return s
}

func (s *smtpConn) reply() string {
	s.t.Helper()
	for {
		l, err := s.br.ReadString('\n')
		require.NoError(s.t, err)
		if len(l) < 4 || l[3] != '-' {
			return strings.TrimRight(l, "\r\n")
		}
	}
}

func (s *smtpConn) cmd(line, wantPrefix string) string {
	s.t.Helper()
	_, err := io.WriteString(s.c, line+"\r\n")
	require.NoError(s.t, err)
	r := s.reply()
	require.True(s.t, strings.HasPrefix(r, wantPrefix), "%s: got %q, want %s", line, r, wantPrefix)
	return r
}

// subjects returns the Subject: of every message in the demo account's
// INBOX, read over IMAPS.
func subjects(t *testing.T, addr, certFile string) []string {
	t.Helper()
	_, msgs, _ := inboxOverIMAPS(t, addr, certFile, "demo", "demo-pw")
	var out []string
	for _, m := range msgs {
		for _, l := range strings.Split(m, "\r\n") {
			if s, ok := strings.CutPrefix(l, "Subject: "); ok {
				out = append(out, s)
				break
			}
		}
	}
	return out
}

// TestMailserverSIGTERMFinishesTransactions sends SIGTERM to the built
// server while a message is half through DATA over the MX and another
// half through an IMAP APPEND literal: both complete and are
// acknowledged (250, OK), the process exits 0, and after a restart on the
// same data directory both messages are there, once each.
func TestMailserverSIGTERMFinishesTransactions(t *testing.T) {
	data := t.TempDir()
	p := startProc(t, data)

	mx := dialMX(t, p.addrs["smtp"])
	mx.cmd("EHLO client.test", "250")
	mx.cmd("MAIL FROM:<a@example.org>", "250")
	mx.cmd("RCPT TO:<demo@localhost>", "250")
	mx.cmd("DATA", "354")
	_, err := io.WriteString(mx.c, "From: a@example.org\r\nTo: demo@localhost\r\nSubject: in flight over SMTP\r\n\r\nfirst half\r\n")
	require.NoError(t, err)

	im := dialWire(t, p.addrs["imaps"], p.cert)
	im.line()
	require.Contains(t, im.imap("a", "LOGIN demo demo-pw"), "a OK")
	msg := "From: demo@localhost\r\nSubject: in flight over IMAP\r\n\r\nfirst half\r\nsecond half\r\n"
	im.send(fmt.Sprintf("b APPEND INBOX {%d}", len(msg)))
	require.True(t, strings.HasPrefix(im.line(), "+"))
	_, err = io.WriteString(im.c, msg[:30])
	require.NoError(t, err)

	p.signal(syscall.SIGTERM)
	p.waitLog("shutting down")
	// New connections are refused once shutdown began.
	require.Eventually(t, func() bool {
		c, err := net.DialTimeout("tcp", p.addrs["imap"], time.Second)
		if err == nil {
			c.Close()
		}
		return err != nil
	}, 10*time.Second, 10*time.Millisecond)

	// The transactions in flight finish and are acknowledged.
	_, err = io.WriteString(mx.c, "second half\r\n.\r\n")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(mx.reply(), "250"), "DATA in flight not accepted")
	_, err = io.WriteString(im.c, msg[30:]+"\r\n")
	require.NoError(t, err)
	for {
		l := im.line()
		if strings.HasPrefix(l, "b ") {
			require.Contains(t, l, "b OK", "APPEND in flight not accepted")
			break
		}
	}
	// Then the sessions are told the server is going away.
	require.True(t, strings.HasPrefix(mx.reply(), "421 4.3.2"))
	require.NoError(t, p.wait(60*time.Second), "exit status; stderr:\n%s", p.stderr.String())

	p2 := startProc(t, data)
	require.ElementsMatch(t, []string{"in flight over SMTP", "in flight over IMAP"}, subjects(t, p2.addrs["imaps"], p2.cert))
}
