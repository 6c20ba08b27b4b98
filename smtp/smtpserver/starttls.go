package smtpserver

import (
	"bufio"
	"crypto/tls"
	"time"

	"github.com/posthorn/posthorn/internal/lineio"
	"github.com/posthorn/posthorn/smtp"
)

// serverTLSConfig is the configuration used on the wire: a clone with TLS
// 1.2 as the floor.
func serverTLSConfig(base *tls.Config) *tls.Config {
	cfg := base.Clone()
	if cfg.MinVersion < tls.VersionTLS12 {
		cfg.MinVersion = tls.VersionTLS12
	}
	return cfg
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
	if c.br.Buffered() > 0 {
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
	tc := tls.Server(c.nc, serverTLSConfig(c.srv.TLSConfig))
	_ = tc.SetDeadline(time.Now().Add(c.lim.CommandTimeout))
	if err := tc.HandshakeContext(c.ctx); err != nil {
		c.log.Debug("STARTTLS handshake failed", "err", err)
		c.quit = true
		return
	}
	_ = tc.SetDeadline(time.Time{})
	c.mu.Lock()
	c.nc = tc
	c.mu.Unlock()
	c.bw.Reset(tc)
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
