package tlsutil

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/posthorn/posthorn/internal/testpeer"
)

// TestPythonClient connects Python's ssl module (OpenSSL) to our implicit
// TLS listener, trusting the PEM file from WriteFiles, with and without
// ALPN. OpenSSL must see the refusal of http/1.1 (ALPACA) as a handshake
// failure.
func TestPythonClient(t *testing.T) {
	testpeer.Python(t)
	tc := cert(t)
	certFile, _, err := tc.WriteFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := NewListener(inner, ServerConfig(tc.ServerConfig(), ALPNIMAP))
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.WriteString(c, "* OK ready\r\n")
				bufio.NewReader(c).ReadString('\n')
			}()
		}
	}()
	// One Python process tries every case, one output line each.
	const script = `
import os, socket, ssl
for case in os.environ["CASES"].split(";"):
    alpn, host = case.split(" ")
    ctx = ssl.create_default_context(cafile=os.environ["CERT"])
    if alpn != "-":
        ctx.set_alpn_protocols(alpn.split(","))
    try:
        with socket.create_connection(("127.0.0.1", int(os.environ["PORT"]))) as s:
            with ctx.wrap_socket(s, server_hostname=host) as t:
                line = t.recv(100).decode()
                print("ok", t.version(), t.selected_alpn_protocol(), line.strip())
                t.sendall(b"a LOGOUT\r\n")
    except ssl.SSLError as e:
        print("sslerror", e.reason or str(e))
`
	port := ln.Addr().(*net.TCPAddr).Port
	tests := []struct {
		alpn, host, want string
	}{
		{"-", "localhost", "ok TLSv1.3 None * OK ready"},
		{"imap", "localhost", "ok TLSv1.3 imap * OK ready"},
		{"http/1.1,imap", "127.0.0.1", "ok TLSv1.3 imap * OK ready"},
		{"http/1.1", "localhost", "sslerror"},
		{"h2,http/1.1", "localhost", "sslerror"},
	}
	var cases []string
	for _, tt := range tests {
		cases = append(cases, tt.alpn+" "+tt.host)
	}
	out := testpeer.RunPython(t, script, "CERT="+certFile, "CASES="+strings.Join(cases, ";"), fmt.Sprint("PORT=", port))
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(tests) {
		t.Fatalf("Python printed %q", out)
	}
	for i, tt := range tests {
		got := strings.TrimSpace(lines[i])
		if tt.want == "sslerror" {
			// OpenSSL names the alert: tlsv1 alert no application protocol.
			if !strings.HasPrefix(got, "sslerror") || !strings.Contains(strings.ToLower(got), "no application protocol") {
				t.Errorf("ALPN %q: Python says %q, want the no_application_protocol alert", tt.alpn, got)
			}
			continue
		}
		if !strings.EqualFold(got, tt.want) {
			t.Errorf("ALPN %q: Python says %q, want %q", tt.alpn, got, tt.want)
		}
	}
}

// TestPythonServer runs a Python TLS server from the PEM files WriteFiles
// wrote and connects to it with ClientConfig.
func TestPythonServer(t *testing.T) {
	testpeer.Python(t)
	tc := cert(t)
	certFile, keyFile, err := tc.WriteFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	port := testpeer.FreePort(t)
	const script = `
import os, socket, ssl
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(os.environ["CERT"], os.environ["KEY"])
ctx.set_alpn_protocols(["pop3"])
srv = socket.create_server(("127.0.0.1", int(os.environ["PORT"])))
print("listening", flush=True)
c, _ = srv.accept()
with ctx.wrap_socket(c, server_side=True) as t:
    t.sendall(b"+OK python " + t.selected_alpn_protocol().encode() + b"\r\n")
    t.recv(100)
`
	done := make(chan []byte, 1)
	go func() {
		out, err := testpeer.RunPythonErr(t, script, "CERT="+certFile, "KEY="+keyFile, fmt.Sprint("PORT=", port))
		if err != nil {
			out = append(out, err.Error()...)
		}
		done <- out
	}()
	var conn *tls.Conn
	addr := fmt.Sprint("127.0.0.1:", port)
	for i := 0; ; i++ {
		conn, err = tls.Dial("tcp", addr, ClientConfig(tc.ClientConfig(), "", ALPNPOP3))
		if err == nil {
			break
		}
		if i > 100 {
			t.Fatalf("dial: %v (python: %s)", err, <-done)
		}
		select {
		case out := <-done:
			t.Fatalf("python exited: %s", out)
		default:
		}
		waitABit()
	}
	defer conn.Close()
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || line != "+OK python pop3\r\n" {
		t.Fatalf("greeting %q, %v", line, err)
	}
	io.WriteString(conn, "QUIT\r\n")
	<-done
}

// TestPythonSTARTTLS runs Python's smtplib against a minimal SMTP dialogue
// that upgrades with CheckPipelined and ServerUpgrade (RFC 3207):
//
//	S: 220 localhost
//	C: EHLO …            S: 250-localhost / 250 STARTTLS
//	C: STARTTLS          S: 220 2.0.0 Ready to start TLS
//	(TLS)  C: EHLO …     S: 250 localhost
//	C: QUIT              S: 221 2.0.0 Bye
func TestPythonSTARTTLS(t *testing.T) {
	testpeer.Python(t)
	tc := cert(t)
	certFile, _, err := tc.WriteFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	errc := make(chan error, 1)
	go func() {
		errc <- func() error {
			c, err := ln.Accept()
			if err != nil {
				return err
			}
			defer c.Close()
			var conn net.Conn = c
			br := bufio.NewReader(conn)
			io.WriteString(conn, "220 localhost ESMTP\r\n")
			upgraded := false
			for {
				line, err := br.ReadString('\n')
				if err != nil {
					return err
				}
				verb := strings.ToUpper(strings.Fields(line + " x")[0])
				switch {
				case verb == "EHLO" && !upgraded:
					io.WriteString(conn, "250-localhost\r\n250 STARTTLS\r\n")
				case verb == "EHLO":
					io.WriteString(conn, "250 localhost\r\n")
				case verb == "STARTTLS":
					if err := CheckPipelined(c, br); err != nil {
						return err
					}
					io.WriteString(conn, "220 2.0.0 Ready to start TLS\r\n")
					tconn, err := ServerUpgrade(ctx(t), c, br, ServerConfig(tc.ServerConfig(), ALPNSMTP))
					if err != nil {
						return err
					}
					conn, br, upgraded = tconn, bufio.NewReader(tconn), true
				case verb == "QUIT":
					_, err := io.WriteString(conn, "221 2.0.0 Bye\r\n")
					if !upgraded {
						return fmt.Errorf("QUIT before STARTTLS")
					}
					return err
				default:
					io.WriteString(conn, "502 5.5.1 Unknown command\r\n")
				}
			}
		}()
	}()
	const script = `
import os, smtplib, ssl
ctx = ssl.create_default_context(cafile=os.environ["CERT"])
s = smtplib.SMTP("127.0.0.1", int(os.environ["PORT"]), local_hostname="client.test")
s.ehlo()
s.starttls(context=ctx)
code, _ = s.ehlo()
print(code, s.sock.version())
s.quit()
`
	out := testpeer.RunPython(t, script, "CERT="+certFile, fmt.Sprint("PORT=", ln.Addr().(*net.TCPAddr).Port))
	if got := strings.TrimSpace(string(out)); got != "250 TLSv1.3" {
		t.Fatalf("Python says %q", got)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}
