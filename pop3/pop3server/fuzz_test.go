package pop3server_test

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/pop3/internal/pop3fake"
	"github.com/posthorn/posthorn/pop3/pop3server"
)

// FuzzSession feeds arbitrary client bytes to a live server: every
// session must end once the client half-closes, every reply line must be
// CRLF-terminated, and no session may panic.
func FuzzSession(f *testing.F) {
	for _, s := range []string{
		"USER alice\r\nPASS secret\r\nSTAT\r\nLIST\r\nUIDL 1\r\nRETR 1\r\nTOP 2 1\r\nDELE 1\r\nRSET\r\n",
		"CAPA\r\nAUTH\r\nAUTH PLAIN\r\nAGFsaWNlAHNlY3JldA==\r\nRETR 2\r\n",
		"AUTH PLAIN\r\n*\r\nAUTH LOGIN\r\nYWxpY2U=\r\n!!\r\n",
		"UTF8\r\nUSER alice\r\nPASS secret\r\nTOP 1 999999999999\r\nLIST 0\r\nDELE 4294967297\r\n",
		"USER alice\nPASS secret\nRETR 1\n",
		"\x00\xff\r\n\r\n \r\nSTLS extra\r\n" + strings.Repeat("A", 300) + "\r\n",
		"APOP alice 0123456789abcdef0123456789abcdef\r\nNOOP\r\n",
	} {
		f.Add([]byte(s))
	}
	var logs syncBuffer
	srv := &pop3server.Server{AllowInsecureAuth: true, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		Limits: pop3server.Limits{MaxConnectionsPerIP: -1, MaxBadCommands: 1000, MaxAuthFailures: 1000, AuthFailureDelay: -1}}
	env := pop3fake.Start(f, srv)
	env.Backend.Deliver("alice", []byte(msg1))
	env.Backend.Deliver("alice", []byte(msg2))
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) > 4096 {
			return
		}
		nc, err := net.Dial("tcp", env.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(10 * time.Second))
		go func() {
			nc.Write(in)
			// A half-close ends the session (without UPDATE unless the
			// input itself says QUIT).
			nc.(*net.TCPConn).CloseWrite()
		}()
		br := bufio.NewReader(nc)
		for {
			line, err := br.ReadString('\n')
			if err == io.EOF && line == "" {
				break
			}
			if err != nil {
				t.Fatalf("reading: %v (after %q)", err, line)
			}
			if !strings.HasSuffix(line, "\r\n") {
				t.Fatalf("reply line %q not CRLF-terminated", line)
			}
		}
		if strings.Contains(logs.String(), "panic") {
			t.Fatalf("server panicked:\n%s", logs.String())
		}
	})
}
