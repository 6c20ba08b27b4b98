package smtpserver

import (
	"bufio"
	"context"
	"crypto/tls"
	"time"

	"github.com/posthorn/posthorn/internal/lineio"
	"github.com/posthorn/posthorn/internal/tlsutil"
	"github.com/posthorn/posthorn/smtp"
)

// serverTLSConfig is the configuration used on the wire: TLS 1.2 as the
// minimum and ALPN "smtp" (internal/tlsutil). Submission and LMTP offer
// only AEAD cipher suites in TLS 1.2; the MX keeps Go's defaults, since a
// sender refused at the handshake falls back to plaintext (RFC 7435 §3).
func serverTLSConfig(base *tls.Config, mode Mode) *tls.Config {
	if mode == ModeMX {
		return tlsutil.OpportunisticServerConfig(base, tlsutil.ALPNSMTP)
	}
	return tlsutil.ServerConfig(base, tlsutil.ALPNSMTP)
}

// cmdStartTLS handles STARTTLS (RFC 3207 §4).
func (c *conn) cmdStartTLS(arg string) {
	switch {
	case c.srv.TLSConfig == nil:
		c.reply(502, smtp.EnhancedCode{5, 5, 1}, "STARTTLS not available")
		c.errors++
		return
	case c.tls:
		c.reply(503, smtp.CodeBadSequence, "Already running TLS")
		c.errors++
		return
	case arg != "":
		c.reply(501, smtp.CodeBadSyntax, "STARTTLS takes no argument")
		c.errors++
		return
	}
	if err := tlsutil.CheckPipelined(c.nc, c.br); err != nil {
		// Plaintext pipelined behind STARTTLS would be taken as if it had
		// come over TLS (CVE-2011-0411): refuse and close.
		c.log.Warn("plaintext pipelined after STARTTLS, closing")
		c.reply(554, smtp.EnhancedCode{5, 5, 1}, "Commands pipelined after STARTTLS, closing connection")
		c.quit = true
		return
	}
	c.reply(220, smtp.EnhancedCode{2, 0, 0}, "Ready to start TLS")
	if err := c.flush(); err != nil {
		c.quit = true
		return
	}
	ctx, cancel := context.WithTimeout(c.ctx, c.lim.CommandTimeout)
	tc, err := tlsutil.ServerUpgrade(ctx, c.nc, c.br, serverTLSConfig(c.srv.TLSConfig, c.srv.Mode))
	cancel()
	if err != nil {
		c.log.Info("STARTTLS failed", "err", err)
		c.quit = true
		return
	}
	_ = tc.SetDeadline(time.Time{})
	c.nc = tc
	c.in = c.trace.Reader(tc)
	c.bw.Reset(c.trace.Writer(tc))
	c.br = bufio.NewReaderSize(c.fr, 32*1024)
	c.lr = lineio.NewReader(c.br, c.lim.MaxLineLength)
	st := tc.ConnectionState()
	c.info.TLS = &st
	c.tls = true
	// RFC 3207 §4.2: discard all knowledge obtained from the client.
	c.resetTx()
	c.helloKind = ""
	c.info.Hostname = ""
}
