package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/posthorn/posthorn/imap"
	"github.com/posthorn/posthorn/imap/imapclient"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// crashLedger is what the clients of the flood were told.
type crashLedger struct {
	mu    sync.Mutex
	acked map[string]bool // Subject → acknowledged (250 or OK)
	sent  map[string]bool // Subject → sent, acknowledged or not
}

func (l *crashLedger) send(subj string) {
	l.mu.Lock()
	l.sent[subj] = true
	l.mu.Unlock()
}

func (l *crashLedger) ack(subj string) {
	l.mu.Lock()
	l.acked[subj] = true
	l.mu.Unlock()
}

// TestMailserverCrashLosesNothingAcknowledged floods the built server
// with deliveries over the MX, submissions and IMAP flag changes, kills
// it with SIGKILL in the middle, restarts it on the same data directory
// and checks: every acknowledged message is there exactly once, no
// message is there twice, and every acknowledged flag change stuck.
func TestMailserverCrashLosesNothingAcknowledged(t *testing.T) {
	data := t.TempDir()
	noLimits := []string{"-max-rcpts-per-hour", "0", "-max-msgs-per-day", "0"}
	p := startProc(t, data, noLimits...)

	// Messages for the flag changes, before the flood.
	seed := dialMX(t, p.addrs["smtp"])
	seed.cmd("EHLO client.test", "250")
	for i := range 10 {
		seed.cmd("MAIL FROM:<a@example.org>", "250")
		seed.cmd("RCPT TO:<demo@localhost>", "250")
		seed.cmd("DATA", "354")
		seed.cmd(fmt.Sprintf("Subject: seed-%d\r\n\r\nseed\r\n.", i), "250")
	}
	seed.cmd("QUIT", "221")

	ledger := &crashLedger{acked: map[string]bool{}, sent: map[string]bool{}}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var wg sync.WaitGroup
	var count atomic.Int64
	for w := range 4 { // MX deliveries
		wg.Go(func() { floodMX(ctx, p.addrs["smtp"], w, ledger, &count) })
	}
	for w := range 3 { // submissions
		wg.Go(func() { floodSubmission(ctx, p.addrs["submissions"], p.cert, w, ledger, &count) })
	}
	// IMAP flag changes, one command in flight at a time.
	flags := &flagLedger{acked: map[uint32]bool{}}
	var flagCount atomic.Int64
	wg.Go(func() { floodFlags(ctx, p.addrs["imaps"], p.cert, flags, &flagCount) })

	// Let the flood run, then kill -9 while it does.
	require.Eventually(t, func() bool { return count.Load() >= 120 && flagCount.Load() >= 30 }, 120*time.Second, 10*time.Millisecond)
	p.signal(syscall.SIGKILL)
	err := p.wait(30 * time.Second)
	require.Error(t, err) // killed
	stop()
	wg.Wait()

	p2 := startProc(t, data, noLimits...)
	_, msgs, _ := inboxOverIMAPS(t, p2.addrs["imaps"], p2.cert, "demo", "demo-pw")
	seen := map[string]int{}
	for _, m := range msgs {
		for _, l := range strings.Split(m, "\r\n") {
			if s, ok := strings.CutPrefix(l, "Subject: "); ok {
				seen[s]++
				break
			}
		}
	}
	ledger.mu.Lock()
	defer ledger.mu.Unlock()
	acked := 0
	for s := range ledger.acked {
		acked++
		assert.Equal(t, 1, seen[s], "acknowledged message %q", s)
	}
	for s, n := range seen {
		assert.Equal(t, 1, n, "message %q stored %d times", s, n)
		if !strings.HasPrefix(s, "seed-") {
			assert.True(t, ledger.sent[s], "message %q was never sent", s)
		}
	}
	require.GreaterOrEqual(t, acked, 120, "too few messages acknowledged before the kill to mean anything")

	got := flagsOverIMAPS(t, p2.addrs["imaps"], p2.cert)
	flags.mu.Lock()
	defer flags.mu.Unlock()
	require.GreaterOrEqual(t, flags.n, 30, "too few flag changes acknowledged")
	for uid, want := range flags.acked {
		if uid == flags.inflightUID && got[uid] == flags.inflightState {
			continue // the change in flight at the kill may have landed
		}
		assert.Equal(t, want, got[uid], "\\Flagged on UID %d", uid)
	}
	t.Logf("before SIGKILL: %d messages acknowledged (%d sent), %d flag changes; after restart: %d messages", acked, len(ledger.sent), flags.n, len(msgs))
}

func floodMX(ctx context.Context, addr string, w int, l *crashLedger, count *atomic.Int64) {
	for n := 0; ctx.Err() == nil; n++ {
		c, err := dialRaw(addr, nil)
		if err != nil {
			return
		}
		if c.expect("", "220") != nil || c.expect("EHLO client.test", "250") != nil {
			c.Close()
			return
		}
		for i := 0; i < 20 && ctx.Err() == nil; i++ {
			subj := fmt.Sprintf("mx-%d-%d-%d", w, n, i)
			if c.expect("MAIL FROM:<a@example.org>", "250") != nil || c.expect("RCPT TO:<demo@localhost>", "250") != nil ||
				c.expect("DATA", "354") != nil {
				break
			}
			l.send(subj)
			if c.expect("Subject: "+subj+"\r\n\r\n"+strings.Repeat("body line\r\n", 50)+".", "250") != nil {
				break
			}
			l.ack(subj)
			count.Add(1)
		}
		c.Close()
	}
}

func floodSubmission(ctx context.Context, addr, certFile string, w int, l *crashLedger, count *atomic.Int64) {
	for n := 0; ctx.Err() == nil; n++ {
		c, err := dialRaw(addr, tlsFor(certFile))
		if err != nil {
			return
		}
		if c.expect("", "220") != nil || c.expect("EHLO client.test", "250") != nil ||
			c.expect("AUTH PLAIN "+plainIR("demo", "demo-pw"), "235") != nil {
			c.Close()
			return
		}
		for i := 0; i < 20 && ctx.Err() == nil; i++ {
			subj := fmt.Sprintf("sub-%d-%d-%d", w, n, i)
			if c.expect("MAIL FROM:<demo@localhost>", "250") != nil || c.expect("RCPT TO:<demo@localhost>", "250") != nil ||
				c.expect("DATA", "354") != nil {
				break
			}
			l.send(subj)
			if c.expect("From: demo@localhost\r\nTo: demo@localhost\r\nSubject: "+subj+"\r\n\r\nsubmitted\r\n.", "250") != nil {
				break
			}
			l.ack(subj)
			count.Add(1)
		}
		c.Close()
	}
}

// flagLedger is the \Flagged state each UID was last acknowledged with,
// and the change in flight.
type flagLedger struct {
	mu            sync.Mutex
	acked         map[uint32]bool
	inflightUID   uint32
	inflightState bool
	n             int
}

func floodFlags(ctx context.Context, addr, certFile string, l *flagLedger, count *atomic.Int64) {
	c, err := dialRaw(addr, tlsFor(certFile))
	if err != nil {
		return
	}
	defer c.Close()
	if c.imapCmd("", "") != nil || c.imapCmd("a LOGIN demo demo-pw", "a OK") != nil || c.imapCmd("b SELECT INBOX", "b OK") != nil {
		return
	}
	for i := 0; ctx.Err() == nil; i++ {
		uid := uint32(i%10) + 1
		on := (i/10)%2 == 0
		op := "+FLAGS.SILENT"
		if !on {
			op = "-FLAGS.SILENT"
		}
		l.mu.Lock()
		l.inflightUID, l.inflightState = uid, on
		l.mu.Unlock()
		tag := fmt.Sprintf("s%d", i)
		if c.imapCmd(fmt.Sprintf("%s UID STORE %d %s (\\Flagged)", tag, uid, op), tag+" OK") != nil {
			return
		}
		l.mu.Lock()
		l.acked[uid] = on
		l.inflightUID = 0
		l.n++
		l.mu.Unlock()
		count.Add(1)
	}
}

// flagsOverIMAPS returns whether each message of the demo INBOX is
// \Flagged, by UID.
func flagsOverIMAPS(t *testing.T, addr, certFile string) map[uint32]bool {
	t.Helper()
	ctx := context.Background()
	c, err := imapclient.DialTLS(ctx, addr, &imapclient.Options{TLSConfig: tlsFor(certFile)})
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Login(ctx, "demo", "demo-pw"))
	sel, err := c.Select(ctx, "INBOX", &imapclient.SelectOptions{ReadOnly: true})
	require.NoError(t, err)
	out := map[uint32]bool{}
	if sel.NumMessages == 0 {
		return out
	}
	got, err := c.Fetch(ctx, imap.NumSet{Ranges: []imap.Range{{Start: 1, Stop: sel.NumMessages}}}, []imap.FetchAtt{{Item: imap.FetchUID}, {Item: imap.FetchFlags}}, nil).Collect()
	require.NoError(t, err)
	for _, m := range got {
		out[m.UID] = slices.Contains(m.Flags, imap.FlagFlagged)
	}
	return out
}

func tlsFor(certFile string) *tls.Config {
	pem, err := os.ReadFile(certFile)
	if err != nil {
		panic(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return &tls.Config{RootCAs: pool, ServerName: "localhost"}
}

// rawConn is a client connection for floods: errors are returned, not
// fatal, because the server may die under it.
type rawConn struct {
	io.ReadWriteCloser
	line func() (string, error)
}

func dialRaw(addr string, tc *tls.Config) (*rawConn, error) {
	var rw io.ReadWriteCloser
	var err error
	if tc != nil {
		rw, err = tls.Dial("tcp", addr, tc)
	} else {
		rw, err = dialTCP(addr)
	}
	if err != nil {
		return nil, err
	}
	br := newLineReader(rw)
	return &rawConn{ReadWriteCloser: rw, line: br}, nil
}

// expect sends cmd (unless "") and reads an SMTP reply starting with want.
func (c *rawConn) expect(cmd, want string) error {
	if cmd != "" {
		if _, err := io.WriteString(c, cmd+"\r\n"); err != nil {
			return err
		}
	}
	for {
		l, err := c.line()
		if err != nil {
			return err
		}
		if len(l) >= 4 && l[3] == '-' {
			continue
		}
		if !strings.HasPrefix(l, want) {
			return fmt.Errorf("%q: got %q", cmd, l)
		}
		return nil
	}
}

// imapCmd sends cmd (unless "") and reads up to the line starting with
// want ("" : the greeting).
func (c *rawConn) imapCmd(cmd, want string) error {
	if cmd != "" {
		if _, err := io.WriteString(c, cmd+"\r\n"); err != nil {
			return err
		}
	}
	tag, _, _ := strings.Cut(want, " ")
	for {
		l, err := c.line()
		if err != nil {
			return err
		}
		if want == "" {
			return nil
		}
		if strings.HasPrefix(l, tag+" ") {
			if !strings.HasPrefix(l, want) {
				return fmt.Errorf("%q: got %q", cmd, l)
			}
			return nil
		}
	}
}

func dialTCP(addr string) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err == nil {
		c.SetDeadline(time.Now().Add(2 * time.Minute))
	}
	return c, err
}

func newLineReader(r io.Reader) func() (string, error) {
	br := bufio.NewReader(r)
	return func() (string, error) {
		l, err := br.ReadString('\n')
		return strings.TrimRight(l, "\r\n"), err
	}
}
