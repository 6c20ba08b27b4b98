package pop3server_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/textproto"
	"strings"
	"time"

	"github.com/posthorn/posthorn/pop3/pop3server"
	"github.com/posthorn/posthorn/sasl"
)

// mapBackend serves one user whose maildrop is a slice of messages. A real
// store also implements the lock and keeps its snapshot consistent.
type mapBackend struct {
	password string
	msgs     [][]byte
}

func (b *mapBackend) VerifyPassword(ctx context.Context, user, pass string) error {
	if user != "alice" || pass != b.password {
		return sasl.ErrAuthFailed
	}
	return nil
}

func (b *mapBackend) OpenMaildrop(ctx context.Context, user string, _ *pop3server.ConnInfo) (pop3server.Maildrop, error) {
	return &mapDrop{b: b}, nil
}

type mapDrop struct{ b *mapBackend }

func (d *mapDrop) Messages(ctx context.Context) ([]pop3server.Message, error) {
	var list []pop3server.Message
	for i, m := range d.b.msgs {
		list = append(list, pop3server.Message{UID: fmt.Sprint("m", i), Size: int64(len(m))})
	}
	return list, nil
}

func (d *mapDrop) Open(ctx context.Context, uid string) (io.Reader, error) {
	for i, m := range d.b.msgs {
		if fmt.Sprint("m", i) == uid {
			return bytes.NewReader(m), nil
		}
	}
	return nil, fs.ErrNotExist
}

func (d *mapDrop) Delete(ctx context.Context, uids []string) error { return nil }
func (d *mapDrop) Close() error                                    { return nil }

func ExampleServer() {
	srv := &pop3server.Server{
		Hostname: "pop.example.test",
		Backend:  &mapBackend{password: "secret", msgs: [][]byte{[]byte("Subject: hi\r\n\r\n.hello\r\n")}},
		// Loopback demo only: without TLS the server would not accept
		// USER/PASS. Set TLSConfig for STLS and use ServeTLS for port 995.
		AllowInsecureAuth: true,
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go srv.Serve(l)
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}()

	c, err := textproto.Dial("tcp", l.Addr().String())
	if err != nil {
		panic(err)
	}
	defer c.Close()
	for _, cmd := range []string{"", "USER alice", "PASS secret", "RETR 1", "QUIT"} {
		if cmd != "" {
			fmt.Println("C:", cmd)
			c.PrintfLine("%s", cmd)
		}
		line, _ := c.ReadLine()
		fmt.Println(strings.TrimSpace("S: " + line))
		if cmd == "RETR 1" {
			for {
				line, _ := c.ReadLine()
				fmt.Println(strings.TrimSpace("S: " + line))
				if line == "." {
					break
				}
			}
		}
	}
	// Output:
	// S: +OK POP3 server ready
	// C: USER alice
	// S: +OK send PASS
	// C: PASS secret
	// S: +OK alice has 1 messages (23 octets)
	// C: RETR 1
	// S: +OK 23 octets
	// S: Subject: hi
	// S:
	// S: ..hello
	// S: .
	// C: QUIT
	// S: +OK bye
}
