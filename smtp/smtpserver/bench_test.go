package smtpserver

import (
	"bufio"
	"context"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/posthorn/posthorn/imap/imapserver/imapmem"
	"github.com/posthorn/posthorn/smtp"
)

type discardBackend struct{}

func (discardBackend) NewSession(ctx context.Context, c *ConnInfo) (Session, error) {
	return discardSession{}, nil
}

type discardSession struct{}

func (discardSession) Mail(context.Context, smtp.Mailbox, *smtp.MailOptions) error { return nil }
func (discardSession) Rcpt(context.Context, smtp.Mailbox, *smtp.RcptOptions) error { return nil }
func (discardSession) Data(ctx context.Context, r io.Reader) error {
	_, err := io.Copy(io.Discard, r)
	return err
}
func (discardSession) Reset(context.Context)       {}
func (discardSession) Close(context.Context) error { return nil }

func benchMessage(size int) string {
	var b strings.Builder
	b.WriteString("From: a@example.org\r\nTo: b@example.org\r\nSubject: bench\r\n\r\n")
	for b.Len() < size-80 {
		b.WriteString(strings.Repeat("x", 70) + "\r\n")
	}
	for b.Len() < size-2 {
		b.WriteByte('y')
	}
	b.WriteString("\r\n")
	return b.String()
}

// BenchmarkTransaction runs pipelined MAIL/RCPT/DATA transactions of a 4 KB
// message over one loopback connection.
func BenchmarkTransaction(b *testing.B) {
	benchTransaction(b, discardBackend{})
}

// BenchmarkTransactionStore is BenchmarkTransaction delivering into
// imapmem through NewStoreBackend: what the glue and the store add.
func BenchmarkTransactionStore(b *testing.B) {
	st := imapmem.New()
	if err := st.AddUser("b", "pw"); err != nil {
		b.Fatal(err)
	}
	benchTransaction(b, NewStoreBackend(st, StoreOptions{}))
}

func benchTransaction(b *testing.B, be Backend) {
	s := &Server{Backend: be, Hostname: "bench.test", Limits: Limits{MaxMessages: -1}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = s.Serve(ln) }()
	defer func() { _ = s.Shutdown(context.Background()) }()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	expect := func(code int) {
		r, err := smtp.ReadReply(br, smtp.ReplyLimits{})
		if err != nil || r.Code != code {
			b.Fatalf("want %d, got %v %v", code, r, err)
		}
	}
	expect(220)
	_, _ = io.WriteString(c, "EHLO bench.test\r\n")
	expect(250)
	msg := benchMessage(4096)
	group := "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n"
	body := msg + ".\r\n"
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_, _ = io.WriteString(c, group)
		expect(250)
		expect(250)
		expect(354)
		_, _ = io.WriteString(c, body)
		expect(250)
	}
}

// BenchmarkTransactionBDAT is BenchmarkTransaction with the message sent
// as one BDAT LAST chunk (what smtpclient sends), checked for bare CR and
// LF like DATA.
func BenchmarkTransactionBDAT(b *testing.B) {
	s := &Server{Backend: discardBackend{}, Hostname: "bench.test", Limits: Limits{MaxMessages: -1}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = s.Serve(ln) }()
	defer func() { _ = s.Shutdown(context.Background()) }()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	expect := func(code int) {
		r, err := smtp.ReadReply(br, smtp.ReplyLimits{})
		if err != nil || r.Code != code {
			b.Fatalf("want %d, got %v %v", code, r, err)
		}
	}
	expect(220)
	_, _ = io.WriteString(c, "EHLO bench.test\r\n")
	expect(250)
	msg := benchMessage(4096)
	group := "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nBDAT " + strconv.Itoa(len(msg)) + " LAST\r\n" + msg
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_, _ = io.WriteString(c, group)
		expect(250)
		expect(250)
		expect(250)
	}
}

func BenchmarkParseCommand(b *testing.B) {
	line := []byte("MAIL FROM:<someone.long@example.org> SIZE=4096 BODY=8BITMIME")
	b.ReportAllocs()
	b.SetBytes(int64(len(line)))
	for i := 0; i < b.N; i++ {
		verb, arg, err := smtp.ParseCommand(line)
		if err != nil || verb != "MAIL" {
			b.Fatal(err)
		}
		m, ps, err := smtp.ParseMailArg(arg, 16)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := smtp.ParseMailOptions(ps); err != nil {
			b.Fatal(err)
		}
		_ = m
	}
}
