package pop3server_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/posthorn/posthorn/pop3/pop3server"
	"github.com/posthorn/posthorn/sasl"
)

// readerBackend serves one user's one message through the kind of reader
// a store hands over: "bytes" (an io.WriterTo over memory, as imapmem),
// "file" (an *os.File, as a Maildir store), "plain" (neither WriterTo
// nor ReaderAt).
type readerBackend struct {
	kind string
	msg  []byte
	path string
}

func (b *readerBackend) VerifyPassword(ctx context.Context, user, pass string) error {
	if user == "u" && pass == "p" {
		return nil
	}
	return sasl.ErrAuthFailed
}

func (b *readerBackend) OpenMaildrop(ctx context.Context, user string, c *pop3server.ConnInfo) (pop3server.Maildrop, error) {
	return b, nil
}

func (b *readerBackend) Messages(ctx context.Context) ([]pop3server.Message, error) {
	return []pop3server.Message{{UID: "m1", Size: int64(len(b.msg))}}, nil
}

type plainReader struct{ r io.Reader }

func (p plainReader) Read(b []byte) (int, error) { return p.r.Read(b) }

func (b *readerBackend) Open(ctx context.Context, uid string) (io.Reader, error) {
	switch b.kind {
	case "file":
		return os.Open(b.path)
	case "plain":
		return plainReader{bytes.NewReader(b.msg)}, nil
	}
	return bytes.NewReader(b.msg), nil
}

func (b *readerBackend) Delete(ctx context.Context, uids []string) error { return nil }
func (b *readerBackend) Close() error                                    { return nil }

// BenchmarkRetr measures the server's cost of RETR and TOP of a 64 KiB
// message, from each kind of reader, against a raw client that allocates
// nothing: B/op and allocs/op are the server's per command.
func BenchmarkRetr(b *testing.B) {
	var mb bytes.Buffer
	mb.WriteString("From: a@example.org\r\nSubject: bench\r\n\r\n")
	for i := 0; mb.Len() < 64<<10; i++ {
		if i%50 == 0 {
			mb.WriteString(".a line that starts with a dot\r\n")
			continue
		}
		fmt.Fprintf(&mb, "line %05d: the quick brown fox jumps over the lazy dog\r\n", i)
	}
	msg := mb.Bytes()
	path := filepath.Join(b.TempDir(), "msg")
	if err := os.WriteFile(path, msg, 0o600); err != nil {
		b.Fatal(err)
	}
	for _, cmd := range []string{"RETR 1", "TOP 1 100"} {
		for _, kind := range []string{"bytes", "file", "plain"} {
			b.Run(fmt.Sprintf("%s/%s", cmd[:4], kind), func(b *testing.B) {
				srv := &pop3server.Server{Backend: &readerBackend{kind: kind, msg: msg, path: path}, AllowInsecureAuth: true}
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					b.Fatal(err)
				}
				go srv.Serve(ln)
				defer srv.Shutdown(context.Background())
				nc, err := net.Dial("tcp", ln.Addr().String())
				if err != nil {
					b.Fatal(err)
				}
				defer nc.Close()
				br := bufio.NewReaderSize(nc, 64<<10)
				line := func() []byte {
					l, err := br.ReadSlice('\n')
					if err != nil {
						b.Fatal(err)
					}
					return l
				}
				line()
				io.WriteString(nc, "USER u\r\nPASS p\r\n")
				line()
				if l := line(); !bytes.HasPrefix(l, []byte("+OK")) {
					b.Fatalf("login: %q", l)
				}
				req := []byte(cmd + "\r\n")
				b.SetBytes(int64(len(msg)))
				b.ReportAllocs()
				for b.Loop() {
					nc.Write(req)
					for {
						l, err := br.ReadSlice('\n')
						if err != nil && err != bufio.ErrBufferFull {
							b.Fatal(err)
						}
						if len(l) == 3 && l[0] == '.' {
							break
						}
					}
				}
			})
		}
	}
}
