package smtpserver

import (
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/posthorn/posthorn/sasl"
	"github.com/posthorn/posthorn/smtp"
)

func (c *conn) xclientAllowed() bool {
	if !c.ip.IsValid() {
		return false
	}
	for _, p := range c.srv.XCLIENTTrusted {
		if p.Contains(c.ip) {
			return true
		}
	}
	return false
}

// cmdXclient handles Postfix's XCLIENT: a trusted proxy passes on the
// real client's attributes. Values are xtext; [UNAVAILABLE] and
// [TEMPUNAVAIL] mean unknown.
func (c *conn) cmdXclient(arg string) {
	if !c.xclientAllowed() {
		c.reply(550, smtp.EnhancedCode{5, 7, 0}, "Insufficient authorization")
		c.errors++
		return
	}
	if c.inTx {
		c.reply(503, smtp.CodeBadSequence, "XCLIENT not permitted during a mail transaction")
		c.errors++
		return
	}
	ps, err := smtp.ParseParams(arg, 16)
	if err != nil || len(ps) == 0 {
		c.reply(501, smtp.CodeBadSyntax, "Syntax: XCLIENT attribute=value ...")
		c.errors++
		return
	}
	addr, port := c.ip, 0
	if ta, ok := c.info.RemoteAddr.(*net.TCPAddr); ok {
		port = ta.Port
	}
	var helo, login string
	for _, p := range ps {
		v, err := smtp.DecodeXtext(p.Value)
		if err != nil {
			c.reply(501, smtp.CodeBadSyntax, "Bad XCLIENT value")
			c.errors++
			return
		}
		if v == "[UNAVAILABLE]" || v == "[TEMPUNAVAIL]" {
			continue
		}
		switch strings.ToUpper(p.Key) {
		case "ADDR":
			a, err := netip.ParseAddr(strings.TrimPrefix(strings.ToUpper(v), "IPV6:"))
			if err != nil {
				c.reply(501, smtp.CodeBadSyntax, "Bad XCLIENT ADDR")
				c.errors++
				return
			}
			addr = a.Unmap()
		case "PORT":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > 65535 {
				c.reply(501, smtp.CodeBadSyntax, "Bad XCLIENT PORT")
				c.errors++
				return
			}
			port = n
		case "HELO":
			helo = v
		case "LOGIN":
			login = v
		case "NAME", "PROTO", "DESTADDR", "DESTPORT":
		default:
			c.reply(501, smtp.CodeBadSyntax, "Bad XCLIENT attribute")
			c.errors++
			return
		}
	}
	c.resetTx()
	c.ip = addr
	c.info.RemoteAddr = net.TCPAddrFromAddrPort(netip.AddrPortFrom(addr, uint16(port)))
	c.helloKind = ""
	c.info.Hostname = helo
	if login != "" {
		c.authed = true
		c.info.Identity = &sasl.Identity{Username: login, Mechanism: "XCLIENT"}
	}
	c.log = c.srv.logger().With("remote", c.info.RemoteAddr.String(), "proxy", c.nc.RemoteAddr().String())
	// The proxy's client starts over with a new greeting.
	c.greet()
}
