package testpeer

import (
	"bufio"
	"crypto/tls"
	"net"
	"strings"
	"testing"
	"time"
)

// readLine reads one CRLF line with a deadline.
func readLine(t *testing.T, c net.Conn, br *bufio.Reader) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := br.ReadString('\n')
	if err != nil {
		t.Fatalf("read: %v (got %q)", err, line)
	}
	return strings.TrimRight(line, "\r\n")
}

func TestDovecotServesIMAPOverTLS(t *testing.T) {
	d := StartDovecot(t, DovecotOptions{})
	c, err := tls.Dial("tcp", d.IMAPS, d.TLSConfig())
	if err != nil {
		t.Fatalf("dial %s: %v", d.IMAPS, err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	if g := readLine(t, c, br); !strings.HasPrefix(g, "* OK") {
		t.Fatalf("greeting %q", g)
	}
	c.Write([]byte("a1 LOGIN alice alicepw\r\n"))
	for {
		l := readLine(t, c, br)
		if strings.HasPrefix(l, "a1 ") {
			if !strings.HasPrefix(l, "a1 OK") {
				t.Fatalf("login: %q", l)
			}
			break
		}
	}
}

func TestPostfixGreetsAndRefusesRelay(t *testing.T) {
	p := StartPostfix(t, PostfixOptions{})
	c, err := net.Dial("tcp", p.SMTP)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	if g := readLine(t, c, br); !strings.HasPrefix(g, "220 ") {
		t.Fatalf("greeting %q", g)
	}
	c.Write([]byte("HELO test\r\nMAIL FROM:<a@localhost>\r\nRCPT TO:<x@example.com>\r\n"))
	want := []string{"250 ", "250 ", "554 "}
	for _, w := range want {
		if l := readLine(t, c, br); !strings.HasPrefix(l, w) {
			t.Fatalf("got %q, want prefix %q", l, w)
		}
	}
}

func TestRunPython(t *testing.T) {
	out := RunPython(t, "import os, sys; sys.stdout.write(os.environ['X'] + '!')", "X=peer")
	if string(out) != "peer!" {
		t.Fatalf("got %q", out)
	}
	if _, err := RunPythonErr(t, "import sys; sys.exit(3)"); err == nil {
		t.Fatal("exit status 3 not reported")
	}
}

func TestFreePortIsListenable(t *testing.T) {
	p := FreePort(t)
	l, err := net.Listen("tcp", addr(p))
	if err != nil {
		t.Fatalf("port %d from FreePort not free: %v", p, err)
	}
	l.Close()
}
