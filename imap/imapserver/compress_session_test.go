package imapserver_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/imap"
	"github.com/posthorn/posthorn/imap/imapclient"
	"github.com/posthorn/posthorn/internal/testpeer"
)

// bigMessage returns a message of about size octets: text that compresses
// well and base64 of random bytes that does not.
func bigMessage(seed uint64, size int) string {
	r := rand.New(rand.NewPCG(seed, seed))
	var b strings.Builder
	fmt.Fprintf(&b, "Subject: big %d\r\nFrom: Bob <bob@example.org>\r\nContent-Type: text/plain\r\n\r\n", seed)
	for b.Len() < size/2 {
		fmt.Fprintf(&b, "Line %d of a long message, with words that repeat and repeat.\r\n", b.Len())
	}
	const b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	line := make([]byte, 76)
	for b.Len() < size {
		for i := range line {
			line[i] = b64[r.IntN(64)]
		}
		b.Write(line)
		b.WriteString("\r\n")
	}
	return b.String()
}

// deliverWhen delivers msg to alice's INBOX once it holds n messages (the
// client got that far), for at most 20 seconds.
func deliverWhen(t *testing.T, ts *testServer, n uint32, msg string) {
	go func() {
		u, err := ts.store.User(context.Background(), "alice", nil)
		if err != nil {
			return
		}
		for end := time.Now().Add(20 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
			st, err := u.Status(context.Background(), "INBOX")
			if err == nil && st.Messages >= n {
				time.Sleep(200 * time.Millisecond) // let the client enter IDLE
				ts.store.Deliver(context.Background(), "alice", strings.NewReader(msg))
				return
			}
		}
	}()
}

// deliverOnFile delivers msg to alice's INBOX once path exists (a
// script's signal that it reached the point where it waits for the
// delivery), for at most 20 seconds.
func deliverOnFile(ts *testServer, path, msg string) {
	go func() {
		for end := time.Now().Add(20 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
			if _, err := os.Stat(path); err == nil {
				ts.store.Deliver(context.Background(), "alice", strings.NewReader(msg))
				return
			}
		}
	}()
}

// A long session through COMPRESS=DEFLATE with Python's imaplib, whose
// socket the script wraps in zlib (raw DEFLATE, Z_SYNC_FLUSH per command)
// after the OK (imaplib has no COMPRESS): SELECT, FETCH of large messages
// (checked by digest), APPEND of a large message and FETCH of it back,
// IDLE with a delivery arriving, SEARCH, LOGOUT. Every response must arrive
// without the client sending more (RFC 4978 §4).
func TestCompressPythonImaplib(t *testing.T) {
	testpeer.Python(t)
	ts := newTestServer(t)
	var digests []string
	for i := range 3 {
		m := bigMessage(uint64(i), 300_000)
		ts.deliver(m)
		digests = append(digests, fmt.Sprintf("%x", sha256.Sum256([]byte(m))))
	}
	up := bigMessage(9, 200_000)
	// The script creates this file once the server has answered IDLE
	// with its continuation, so the delivery cannot land earlier (in
	// the response to the FETCH before it, where imaplib keeps the
	// EXISTS and the script would wait in IDLE for ever under load).
	idling := filepath.Join(t.TempDir(), "idling")
	deliverOnFile(ts, idling, "Subject: during idle\r\n\r\nhello\r\n")
	host, port, _ := strings.Cut(ts.addr, ":")
	script := `
import imaplib, zlib, os, hashlib, time

class ZSock:
    def __init__(self, sock):
        self.sock = sock
        self.c = zlib.compressobj(6, zlib.DEFLATED, -15)
    def sendall(self, data):
        self.sock.sendall(self.c.compress(data) + self.c.flush(zlib.Z_SYNC_FLUSH))
    def __getattr__(self, k):
        return getattr(self.sock, k)

class ZFile:
    def __init__(self, sock):
        self.sock, self.d, self.buf = sock, zlib.decompressobj(-15), bytearray()
    def _fill(self):
        self.sock.settimeout(10)
        data = self.sock.recv(65536)
        if not data:
            raise EOFError("server closed")
        self.buf += self.d.decompress(data)
    def readline(self, limit=-1):
        while b"\n" not in self.buf:
            self._fill()
        i = self.buf.index(b"\n") + 1
        line = bytes(self.buf[:i]); del self.buf[:i]
        return line
    def read(self, n):
        while len(self.buf) < n:
            self._fill()
        out = bytes(self.buf[:n]); del self.buf[:n]
        return out
    def close(self):
        pass

imaplib.Commands["COMPRESS"] = ("AUTH", "SELECTED")
m = imaplib.IMAP4(os.environ["HOST"], int(os.environ["PORT"]))
m.login("alice", "secret")
typ, data = m.capability()
assert b"COMPRESS=DEFLATE" in data[0], data
typ, data = m._simple_command("COMPRESS", "DEFLATE")
assert typ == "OK", (typ, data)
m.sock = ZSock(m.sock)
m.file = ZFile(m.sock.sock)
typ, data = m.capability()
assert typ == "OK" and b"COMPRESS=DEFLATE" not in data[0], data
typ, data = m.select("INBOX")
print("select", data)
for i in (1, 2, 3):
    typ, data = m.fetch(str(i), "(BODY.PEEK[])")
    print("fetch", i, len(data[0][1]), hashlib.sha256(data[0][1]).hexdigest())
msg = open(os.environ["UP"], "rb").read()
typ, data = m.append("INBOX", r"(\Seen)", None, msg)
print("append", typ, data[0].decode().split("]")[0].split()[-1])
typ, data = m.fetch("4", "(BODY.PEEK[])")
print("fetch back", hashlib.sha256(data[0][1]).hexdigest() == hashlib.sha256(msg).hexdigest())
m.send(b"i1 IDLE\r\n")
print("idle", m.readline().decode().strip())
open(os.environ["IDLING"], "w").close()
line = m.readline().decode().strip()
while "EXISTS" not in line:
    line = m.readline().decode().strip()
print("update", line)
m.send(b"DONE\r\n")
line = m.readline().decode().strip()
while not line.startswith("i1 "):
    line = m.readline().decode().strip()
print("done", line)
typ, data = m.search(None, "SUBJECT", "idle")
print("search", data)
typ, data = m.noop()
print("noop", typ)
m.logout()
`
	upFile := filepath.Join(t.TempDir(), "up.eml")
	if err := os.WriteFile(upFile, []byte(up), 0o600); err != nil {
		t.Fatal(err)
	}
	out := string(testpeer.RunPython(t, script, "HOST="+host, "PORT="+port, "UP="+upFile, "IDLING="+idling))
	for i, l := range []string{"select [b'3']", "append OK 4", "fetch back True", "idle + idling", "update * 5 EXISTS", "done i1 OK IDLE completed", "search [b'5']", "noop OK"} {
		if !strings.Contains(out, l+"\n") {
			t.Fatalf("line %d %q missing from:\n%s", i, l, out)
		}
	}
	for i, d := range digests {
		if !strings.Contains(out, d) {
			t.Fatalf("message %d digest %s missing from:\n%s", i+1, d, out)
		}
	}
}

// The same long session with our own client: Compress, then SELECT,
// FETCH of large bodies, APPEND, IDLE woken by a delivery, NOOP, LOGOUT.
func TestCompressOwnClient(t *testing.T) {
	ts := newTestServer(t)
	var msgs []string
	for i := range 3 {
		msgs = append(msgs, bigMessage(uint64(10+i), 250_000))
		ts.deliver(msgs[i])
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	exists := make(chan uint32, 8)
	c, err := imapclient.Dial(ctx, ts.addr, &imapclient.Options{Handler: &imapclient.Handler{Exists: func(n uint32) {
		select {
		case exists <- n:
		default:
		}
	}}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(ctx, "alice", "secret"); err != nil {
		t.Fatal(err)
	}
	if err := c.Compress(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select(ctx, "INBOX", nil); err != nil {
		t.Fatal(err)
	}
	sec := &imap.FetchSection{Peek: true}
	got, err := c.Fetch(ctx, imap.NumSetOf(1, 2, 3), []imap.FetchAtt{{Item: imap.FetchBodySection, Section: sec}}, nil).Collect()
	if err != nil || len(got) != 3 {
		t.Fatalf("fetch: %d messages, %v", len(got), err)
	}
	for i, m := range got {
		if !bytes.Equal(m.Section(sec), []byte(msgs[i])) {
			t.Fatalf("message %d differs after COMPRESS (%d octets)", i+1, len(m.Section(sec)))
		}
	}
	up := bigMessage(20, 150_000)
	if _, err := c.Append(ctx, "INBOX", int64(len(up)), strings.NewReader(up), nil); err != nil {
		t.Fatal(err)
	}
	deliverWhen(t, ts, 4, "Subject: during idle\r\n\r\nhello\r\n")
	idle, err := c.Idle(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for n := uint32(0); n != 5; {
		select {
		case n = <-exists:
		case <-ctx.Done():
			t.Fatal("no EXISTS during IDLE")
		}
	}
	if err := idle.Done(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Noop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Logout(ctx); err != nil {
		t.Fatal(err)
	}
}
