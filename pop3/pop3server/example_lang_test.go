package pop3server_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/textproto"
	"time"

	"github.com/posthorn/posthorn/pop3/pop3server"
)

// A server that answers in German after "LANG de" (RFC 6856 §3) and sits
// behind a load balancer on 10.0.0.0/8 that sends the PROXY protocol.
// Only the text changes; "+OK", "-ERR" and response codes stay.
func ExampleServer_languages() {
	srv := &pop3server.Server{
		Backend:           &mapBackend{password: "secret"},
		AllowInsecureAuth: true, // loopback demo only
		Languages: []pop3server.Language{{
			Tag:         "de",
			Description: "Deutsch",
			Texts: map[string]string{
				"language changed":               "Sprache geändert",
				"send PASS":                      "bitte PASS senden",
				"authentication failed":          "Anmeldung fehlgeschlagen",
				"%s has %d messages (%d octets)": "%[1]s hat %[2]d Nachrichten (%[3]d Oktette)",
			},
		}},
		ProxyTrusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
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
	line, _ := c.ReadLine()
	fmt.Println("S:", line)
	for _, cmd := range []string{"LANG de", "USER alice", "PASS wrong", "USER alice", "PASS secret"} {
		fmt.Println("C:", cmd)
		c.PrintfLine("%s", cmd)
		line, _ := c.ReadLine()
		fmt.Println("S:", line)
	}
	// Output:
	// S: +OK POP3 server ready
	// C: LANG de
	// S: +OK de Sprache geändert
	// C: USER alice
	// S: +OK bitte PASS senden
	// C: PASS wrong
	// S: -ERR [AUTH] Anmeldung fehlgeschlagen
	// C: USER alice
	// S: +OK bitte PASS senden
	// C: PASS secret
	// S: +OK alice hat 0 Nachrichten (0 Oktette)
}
