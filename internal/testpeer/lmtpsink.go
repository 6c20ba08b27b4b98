package testpeer

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// LMTPSink is the smallest LMTP server a private Postfix (PostfixOptions.LMTP)
// can deliver to: it accepts every transaction, answers each recipient
// after DATA (RFC 2033 §4.2), and hands each message, dot-unstuffed, to
// the channel (which holds 4; a test reads what it expects). It listens on
// a free port of 127.0.0.1 until the test ends and returns that address.
func LMTPSink(t testing.TB) (string, <-chan string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	msgs := make(chan string, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serveLMTPSink(c, msgs)
		}
	}()
	return ln.Addr().String(), msgs
}

func serveLMTPSink(c net.Conn, msgs chan<- string) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Minute))
	r := bufio.NewReader(c)
	fmt.Fprint(c, "220 sink LMTP\r\n")
	rcpts := 0
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.TrimSpace(line))
		switch {
		case strings.HasPrefix(cmd, "LHLO"):
			fmt.Fprint(c, "250-sink\r\n250-8BITMIME\r\n250 PIPELINING\r\n")
		case strings.HasPrefix(cmd, "MAIL"):
			rcpts = 0
			fmt.Fprint(c, "250 ok\r\n")
		case strings.HasPrefix(cmd, "RCPT"):
			rcpts++
			fmt.Fprint(c, "250 ok\r\n")
		case cmd == "DATA":
			fmt.Fprint(c, "354 go on\r\n")
			var msg strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				msg.WriteString(strings.TrimPrefix(l, "."))
			}
			for range rcpts {
				fmt.Fprint(c, "250 delivered\r\n")
			}
			msgs <- msg.String()
		case cmd == "QUIT":
			fmt.Fprint(c, "221 bye\r\n")
			return
		default:
			fmt.Fprint(c, "250 ok\r\n")
		}
	}
}
