package main

import (
	"context"
	"net"
	"testing"
	"time"
)

// FuzzProbe feeds arbitrary server output to the prober of each protocol:
// it must end (bounded lines, the step's timeout) without panicking.
func FuzzProbe(f *testing.F) {
	f.Add(uint8(0), []byte("220 mx ESMTP\r\n250-mx\r\n250-AUTH PLAIN LOGIN\r\n250 STARTTLS\r\n454 no TLS\r\n"))
	f.Add(uint8(1), []byte("* OK [CAPABILITY IMAP4rev1] hi\r\n* CAPABILITY IMAP4rev1 AUTH=PLAIN STARTTLS\r\nm1 OK done\r\nm2 NO\r\n"))
	f.Add(uint8(2), []byte("+OK hi\r\n+OK\r\nSASL PLAIN\r\nUSER\r\nSTLS\r\n.\r\n-ERR\r\n"))
	f.Add(uint8(0), []byte("220-a\r\n220-b\r\n"))
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		svc := DefaultServices()[[]int{2, 3, 5}[which%3]]
		env := &Env{Timeout: 200 * time.Millisecond, Dialer: func(ctx context.Context, _, _ string) (net.Conn, error) {
			client, server := net.Pipe()
			go func() {
				defer server.Close()
				go func() { // drain the commands
					buf := make([]byte, 512)
					for {
						if _, err := server.Read(buf); err != nil {
							return
						}
					}
				}()
				_, _ = server.Write(data)
			}()
			return client, nil
		}}
		r := CheckServer(context.Background(), env, "127.0.0.1", ServerOptions{Services: []Service{svc}, RelayTest: true})
		_ = text(r)
	})
}

// FuzzSTSPolicy: the MTA-STS policy parser is bounded in keys and patterns.
func FuzzSTSPolicy(f *testing.F) {
	f.Add("version: STSv1\nmode: enforce\nmx: *.example.org\nmax_age: 86400\n")
	f.Add("mx:\nmx: a\r\nmode:testing")
	f.Fuzz(func(t *testing.T, s string) {
		fields, patterns := parseSTSPolicy(s)
		if len(fields) > 100 || len(patterns) > 100 {
			t.Fatalf("unbounded: %d fields, %d patterns", len(fields), len(patterns))
		}
		for _, p := range patterns {
			_ = stsMatch([]string{p}, "mx.example.org")
		}
	})
}
