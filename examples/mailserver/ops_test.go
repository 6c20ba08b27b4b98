package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/smtp/smtpqueue"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// wire is a line-level client for the tests of the operations side: it
// sends a line and reads the reply as each protocol ends it.
type wire struct {
	t  *testing.T
	c  *tls.Conn
	br *bufio.Reader
}

func dialWire(t *testing.T, addr, certFile string) *wire {
	t.Helper()
	pem, err := os.ReadFile(certFile)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, ServerName: "localhost"})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(60 * time.Second))
	return &wire{t: t, c: c, br: bufio.NewReader(c)}
}

func (w *wire) line() string {
	w.t.Helper()
	l, err := w.br.ReadString('\n')
	require.NoError(w.t, err, "reading a reply")
	return strings.TrimRight(l, "\r\n")
}

func (w *wire) send(s string) {
	w.t.Helper()
	_, err := io.WriteString(w.c, s+"\r\n")
	require.NoError(w.t, err)
}

// smtp reads an SMTP reply (the last line of a multi-line one).
func (w *wire) smtp() string {
	w.t.Helper()
	for {
		l := w.line()
		if len(l) < 4 || l[3] != '-' {
			return l
		}
	}
}

func (w *wire) smtpCmd(s string) string { w.send(s); return w.smtp() }

// imap sends a tagged command and returns the tagged reply line.
func (w *wire) imap(tag, cmd string) string {
	w.t.Helper()
	w.send(tag + " " + cmd)
	for {
		if l := w.line(); strings.HasPrefix(l, tag+" ") {
			return l
		}
	}
}

func (w *wire) pop3Cmd(s string) string { w.send(s); return w.line() }

func plainIR(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pass))
}

// scrape returns the metrics page.
func scrape(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "text/plain; version=0.0.4; charset=utf-8", resp.Header.Get("Content-Type"))
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

// metricValue returns the value of the series written exactly as series
// (name{labels}), or -1 when absent.
func metricValue(page, series string) float64 {
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`)
	m := re.FindStringSubmatch(page)
	if m == nil {
		return -1
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

// checkExposition checks the page against the text format's rules: every
// series belongs to a family announced by HELP and TYPE, names and label
// syntax are valid.
func checkExposition(t *testing.T, page string) {
	t.Helper()
	series := regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*")*\})? (-?[0-9.e+]+|NaN|[+-]Inf)$`)
	typed := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSuffix(page, "\n"), "\n") {
		if f, ok := strings.CutPrefix(l, "# TYPE "); ok {
			name, kind, _ := strings.Cut(f, " ")
			require.Contains(t, []string{"counter", "gauge"}, kind, l)
			typed[name] = true
			continue
		}
		if strings.HasPrefix(l, "# HELP ") {
			continue
		}
		m := series.FindStringSubmatch(l)
		require.NotNil(t, m, "not a valid series line: %q", l)
		require.True(t, typed[m[1]], "series before its TYPE: %q", l)
	}
}

// TestMailserverMetricsMove scrapes /metrics before and after real
// traffic: a connection per protocol, a failed and a good login, a
// message in over the MX and one over submission; each counter moves by
// what happened.
func TestMailserverMetricsMove(t *testing.T) {
	addrs, cert := startServerWith(t, nil)
	before := scrape(t, addrs["metrics"])
	checkExposition(t, before)
	assert.Equal(t, 1.0, metricValue(before, "posthorn_up"))
	assert.Equal(t, -1.0, metricValue(before, `posthorn_logins_total{protocol="imap",mechanism="LOGIN",result="failure"}`))

	// IMAP: one failed login, one good one.
	im := dialWire(t, addrs["imaps"], cert)
	im.line()
	assert.Contains(t, im.imap("a", "LOGIN demo wrong"), "a NO [AUTHENTICATIONFAILED]")
	assert.Contains(t, im.imap("b", "LOGIN demo demo-pw"), "b OK")

	// Submission: AUTH PLAIN, one message to the demo account.
	sub := dialWire(t, addrs["submissions"], cert)
	sub.smtp()
	sub.smtpCmd("EHLO client.test")
	require.Contains(t, sub.smtpCmd("AUTH PLAIN "+plainIR("demo", "demo-pw")), "235")
	require.Contains(t, sub.smtpCmd("MAIL FROM:<demo@localhost>"), "250")
	require.Contains(t, sub.smtpCmd("RCPT TO:<demo@localhost>"), "250")
	require.Contains(t, sub.smtpCmd("DATA"), "354")
	msg := "From: demo@localhost\r\nTo: demo@localhost\r\nSubject: metrics\r\n\r\nhello\r\n"
	require.Contains(t, sub.smtpCmd(msg+"."), "250")
	sub.smtpCmd("QUIT")

	// The MX: one message from outside.
	sendMX(t, addrs["smtp"], "metrics via MX")

	// POP3: a failed USER/PASS.
	pop := dialWire(t, addrs["pop3s"], cert)
	pop.line()
	pop.pop3Cmd("USER demo")
	assert.Contains(t, pop.pop3Cmd("PASS nope"), "-ERR [AUTH]")
	pop.pop3Cmd("QUIT")

	var after string
	require.Eventually(t, func() bool {
		after = scrape(t, addrs["metrics"])
		return metricValue(after, `posthorn_messages_in_total{service="smtp",result="accepted"}`) == 1
	}, 10*time.Second, 20*time.Millisecond)
	checkExposition(t, after)
	for series, want := range map[string]float64{
		`posthorn_logins_total{protocol="imap",mechanism="LOGIN",result="failure"}`:       1,
		`posthorn_logins_total{protocol="imap",mechanism="LOGIN",result="success"}`:       1,
		`posthorn_logins_total{protocol="submission",mechanism="PLAIN",result="success"}`: 1,
		`posthorn_logins_total{protocol="pop3",mechanism="USER",result="failure"}`:        1,
		`posthorn_auth_failures_total{protocol="imap"}`:                                   1,
		`posthorn_auth_failures_total{protocol="pop3"}`:                                   1,
		`posthorn_messages_in_total{service="submission",result="accepted"}`:              1,
		`posthorn_messages_in_total{service="smtp",result="accepted"}`:                    1,
		`posthorn_recipients_in_total{service="submission"}`:                              1,
		`posthorn_connections_total{protocol="imap",result="served"}`:                     1,
		`posthorn_connections_total{protocol="submission",result="served"}`:               1,
		`posthorn_connections_total{protocol="smtp",result="served"}`:                     1,
		`posthorn_connections_total{protocol="pop3",result="served"}`:                     1,
		`posthorn_connections_open{protocol="imap"}`:                                      1, // still open
		`posthorn_auth_blocks{scope="network"}`:                                           0,
	} {
		assert.Equal(t, want, metricValue(after, series), series)
	}
	// Bytes: at least the message's own octets (plus the Received: field).
	assert.GreaterOrEqual(t, metricValue(after, `posthorn_bytes_in_total{service="submission"}`), float64(len(msg)))
	// The login was counted from the hook; the page never holds secrets.
	assert.NotContains(t, after, "demo-pw")
}

// TestMailserverAuthThrottle: failures from one address, over any
// protocol, first delay and then block it; a blocked address is refused
// without a credential check, even with the right password, by every
// protocol with a temporary error; "mailserver unblock" lifts the block;
// the logs and metrics show it.
func TestMailserverAuthThrottle(t *testing.T) {
	var logs lockedBuffer
	var dataDir string
	addrs, cert := startServerWithLog(t, &logs, func(c *config) {
		dataDir = c.Data
		c.Ops.Abuse.AuthBlockAfter = 5
		c.Ops.Abuse.AuthMaxDelay = 500 * time.Millisecond
	})
	// Five failures across protocols: IMAP LOGIN, submission AUTH
	// PLAIN, POP3 USER/PASS.
	fail := func(i int) {
		switch i % 3 {
		case 0:
			w := dialWire(t, addrs["imaps"], cert)
			w.line()
			require.Contains(t, w.imap("a", "LOGIN demo bad"+strconv.Itoa(i)), "a NO [AUTHENTICATIONFAILED]")
		case 1:
			w := dialWire(t, addrs["submissions"], cert)
			w.smtp()
			w.smtpCmd("EHLO client.test")
			require.Contains(t, w.smtpCmd("AUTH PLAIN "+plainIR("demo", "bad")), "535 5.7.8")
		case 2:
			w := dialWire(t, addrs["pop3s"], cert)
			w.line()
			w.pop3Cmd("USER demo")
			require.Contains(t, w.pop3Cmd("PASS bad"), "-ERR [AUTH]")
		}
	}
	start := time.Now()
	for i := range 5 {
		fail(i)
	}
	// The 4th and 5th attempts waited (the first 3 failures are free):
	// the delay comes before the check.
	assert.GreaterOrEqual(t, time.Since(start), 500*time.Millisecond)

	// Blocked now: the right password is refused by every protocol, at
	// once, with a temporary error.
	w := dialWire(t, addrs["imaps"], cert)
	w.line()
	assert.Contains(t, w.imap("a", "LOGIN demo demo-pw"), "a NO [UNAVAILABLE]")
	s := dialWire(t, addrs["submissions"], cert)
	s.smtp()
	s.smtpCmd("EHLO client.test")
	assert.Contains(t, s.smtpCmd("AUTH PLAIN "+plainIR("demo", "demo-pw")), "454 4.7.0")
	p := dialWire(t, addrs["pop3s"], cert)
	p.line()
	p.pop3Cmd("USER demo")
	assert.Contains(t, p.pop3Cmd("PASS demo-pw"), "-ERR [SYS/TEMP]")

	page := scrape(t, addrs["metrics"])
	assert.Equal(t, 1.0, metricValue(page, `posthorn_auth_blocks{scope="network"}`))
	assert.Equal(t, 1.0, metricValue(page, `posthorn_logins_total{protocol="imap",mechanism="LOGIN",result="refused"}`))
	assert.Equal(t, 1.0, metricValue(page, `posthorn_logins_total{protocol="submission",mechanism="PLAIN",result="refused"}`))
	assert.Contains(t, logs.String(), "result=refused")
	assert.NotContains(t, logs.String(), "demo-pw")

	// The subcommand lists the block and lifts it.
	var out, errOut bytes.Buffer
	require.Equal(t, 0, unblockMain([]string{"-data", dataDir, "-metrics", addrs["metrics"], "-list"}, &out, &errOut), errOut.String())
	assert.Contains(t, out.String(), `"network":"127.0.0.1/32"`)
	out.Reset()
	require.Equal(t, 0, unblockMain([]string{"-data", dataDir, "-metrics", addrs["metrics"], "127.0.0.1"}, &out, &errOut), errOut.String())
	assert.Contains(t, out.String(), `"cleared":1`)
	assert.Contains(t, logs.String(), "event=unblock")
	w = dialWire(t, addrs["imaps"], cert)
	w.line()
	assert.Contains(t, w.imap("a", "LOGIN demo demo-pw"), "a OK")

	// Without the token the admin API refuses.
	resp, err := http.Post("http://"+addrs["metrics"]+"/admin/unblock?what=127.0.0.1", "", nil)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
}

// TestMailserverAccountBlockOverSASL: an account guessed at is blocked
// for SASL too (the name is learnt inside the exchange, before the
// check), from any address; the network limit is off here so only the
// account counts.
func TestMailserverAccountBlockOverSASL(t *testing.T) {
	addrs, cert := startServerWith(t, func(c *config) {
		c.Ops.Abuse.AuthBlockAfter = 0
		c.Ops.Abuse.AuthUserBlockAfter = 4
		c.Ops.Abuse.AuthMaxDelay = 200 * time.Millisecond
	})
	for range 4 {
		w := dialWire(t, addrs["submissions"], cert)
		w.smtp()
		w.smtpCmd("EHLO client.test")
		require.Contains(t, w.smtpCmd("AUTH PLAIN "+plainIR("demo", "bad")), "535")
	}
	w := dialWire(t, addrs["submissions"], cert)
	w.smtp()
	w.smtpCmd("EHLO client.test")
	assert.Contains(t, w.smtpCmd("AUTH PLAIN "+plainIR("demo", "demo-pw")), "454 4.7.0")
	// Over IMAP's SASL too; another account from the same address is
	// not blocked.
	im := dialWire(t, addrs["imaps"], cert)
	im.line()
	assert.Contains(t, im.imap("a", "AUTHENTICATE PLAIN "+plainIR("demo", "demo-pw")), "a NO [UNAVAILABLE]")
	assert.Contains(t, im.imap("b", "LOGIN nobody x"), "b NO [AUTHENTICATIONFAILED]")
}

// TestMailserverSubmissionLimits: past the hourly recipients RCPT is
// answered 451 4.7.1, past the daily messages MAIL 550 5.7.1; counted and
// logged.
func TestMailserverSubmissionLimits(t *testing.T) {
	var logs lockedBuffer
	addrs, cert := startServerWithLog(t, &logs, func(c *config) {
		c.Ops.Abuse.RcptsPerHour = 3
		c.Ops.Abuse.MsgsPerDay = 2
	})
	w := dialWire(t, addrs["submissions"], cert)
	w.smtp()
	w.smtpCmd("EHLO client.test")
	require.Contains(t, w.smtpCmd("AUTH PLAIN "+plainIR("demo", "demo-pw")), "235")
	send := func(rcpts int) []string {
		var replies []string
		require.Contains(t, w.smtpCmd("MAIL FROM:<demo@localhost>"), "250")
		ok := 0
		for range rcpts {
			r := w.smtpCmd("RCPT TO:<demo@localhost>")
			replies = append(replies, r)
			if strings.HasPrefix(r, "250") {
				ok++
			}
		}
		if ok == 0 {
			w.smtpCmd("RSET")
			return replies
		}
		require.Contains(t, w.smtpCmd("DATA"), "354")
		require.Contains(t, w.smtpCmd("From: demo@localhost\r\nSubject: x\r\n\r\nx\r\n."), "250")
		return replies
	}
	// Two recipients, then two more: the third is the last of the hour.
	assert.Equal(t, []string{"250", "250"}, codes(send(2)))
	r := send(2)
	assert.Equal(t, "250", codes(r)[0])
	assert.True(t, strings.HasPrefix(r[1], "451 4.7.1 "), r[1])
	// Two messages sent: the third MAIL is refused for the day.
	assert.True(t, strings.HasPrefix(w.smtpCmd("MAIL FROM:<demo@localhost>"), "550 5.7.1 "))

	page := scrape(t, addrs["metrics"])
	assert.Equal(t, 1.0, metricValue(page, `posthorn_submission_limited_total{limit="recipients_per_hour"}`))
	assert.Equal(t, 1.0, metricValue(page, `posthorn_submission_limited_total{limit="messages_per_day"}`))
	assert.Contains(t, logs.String(), "event=limit")
	assert.Contains(t, logs.String(), "limit=messages_per_day")
}

func codes(replies []string) []string {
	out := make([]string, len(replies))
	for i, r := range replies {
		out[i], _, _ = strings.Cut(r, " ")
	}
	return out
}

// TestMetricsExposition: families sorted, label values escaped, an
// unlabelled family shown at 0 before its first change.
func TestMetricsExposition(t *testing.T) {
	m := newMetrics()
	m.define("b_total", counter, "B with a \\ and\na newline.", "k")
	m.define("a_gauge", gauge, "A.")
	m.add("b_total", 2, `quote " back \ nl`+"\n")
	m.add("b_total", 1, "plain")
	var buf bytes.Buffer
	require.NoError(t, m.write(&buf))
	assert.Equal(t, `# HELP a_gauge A.
# TYPE a_gauge gauge
a_gauge 0
# HELP b_total B with a \\ and\na newline.
# TYPE b_total counter
b_total{k="plain"} 1
b_total{k="quote \" back \\ nl\n"} 2
`, buf.String())
	checkExposition(t, buf.String())
}

// TestQueueMetrics: the queue's events count deliveries by outcome and
// reply code, and its length and oldest age are read at each scrape.
func TestQueueMetrics(t *testing.T) {
	var logs lockedBuffer
	o, err := newOps(defaultOpsConfig(), t.TempDir(), slog.New(slog.NewTextHandler(&logs, nil)))
	require.NoError(t, err)
	queued := 3
	o.watchQueue(func() smtpqueue.Stats { return smtpqueue.Stats{Queued: queued, Oldest: 90 * time.Second} })
	o.queueEvent(smtpqueue.Event{Type: smtpqueue.EventDelivered, ID: "q1", Recipient: "a@example.org", Code: 250})
	o.queueEvent(smtpqueue.Event{Type: smtpqueue.EventDeferred, ID: "q2", Recipient: "b@example.org", Code: 451, Reply: "451 4.7.1 greylisted"})
	o.queueEvent(smtpqueue.Event{Type: smtpqueue.EventFailed, ID: "q3", Recipient: "c@example.org", Code: 550})
	o.queueEvent(smtpqueue.Event{Type: smtpqueue.EventDSN, ID: "q3", DSN: "q4"})
	var buf bytes.Buffer
	require.NoError(t, o.m.write(&buf))
	page := buf.String()
	checkExposition(t, page)
	for series, want := range map[string]float64{
		`posthorn_deliveries_total{outcome="delivered",code="250"}`: 1,
		`posthorn_deliveries_total{outcome="deferred",code="451"}`:  1,
		`posthorn_deliveries_total{outcome="failed",code="550"}`:    1,
		`posthorn_messages_out_total`:                               1,
		`posthorn_queue_messages`:                                   3,
		`posthorn_queue_oldest_seconds`:                             90,
	} {
		assert.Equal(t, want, metricValue(page, series), series)
	}
	queued = 0
	buf.Reset()
	require.NoError(t, o.m.write(&buf))
	assert.Equal(t, 0.0, metricValue(buf.String(), `posthorn_queue_messages`))
	assert.Contains(t, logs.String(), `msg="queue failed"`)
	assert.Contains(t, logs.String(), "rcpt=c@example.org")
}
