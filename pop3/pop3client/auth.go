package pop3client

import (
	"cmp"
	"context"
	"crypto/md5"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/posthorn/posthorn/internal/tlsutil"
	"github.com/posthorn/posthorn/pop3"
	"github.com/posthorn/posthorn/sasl"
)

// ErrNotSupported is returned when the server does not advertise what a
// method needs.
var ErrNotSupported = errors.New("pop3client: not supported by the server")

// Capa asks for the capabilities (RFC 2449 §5) and caches them. A server
// without CAPA answers -ERR; Capa then returns empty capabilities and no
// error, so callers can go on with RFC 1939 commands.
func (c *Client) Capa(ctx context.Context) (pop3.Capabilities, error) {
	caps := pop3.Capabilities{}
	err := c.do(ctx, func() error {
		if err := c.writeCmd("CAPA"); err != nil {
			return err
		}
		if err := c.bw.Flush(); err != nil {
			return err
		}
		if _, err := c.readOK(); err != nil {
			return err
		}
		return c.readLines(func(line []byte) error {
			tag, args, err := pop3.ParseCapability(line)
			if err == nil {
				caps[tag] = args
			}
			return nil
		})
	})
	if _, isErr := pop3.AsError(err); isErr {
		err = nil
	}
	if err != nil {
		return nil, err
	}
	c.caps = caps
	return caps, nil
}

// caps returns the cached capabilities, asking for them once.
func (c *Client) capabilities(ctx context.Context) (pop3.Capabilities, error) {
	if c.caps != nil {
		return c.caps, nil
	}
	return c.Capa(ctx)
}

// StartTLS upgrades the connection with STLS (RFC 2595 §4). cfg nil means
// Options.TLSConfig; its ServerName defaults to the host dialled, and the
// certificate is verified unless the config says otherwise. The cached
// capabilities are discarded, as §4 requires.
func (c *Client) StartTLS(ctx context.Context, cfg *tls.Config) error {
	if c.isTLS {
		return errors.New("pop3client: already using TLS")
	}
	if _, err := c.simple(ctx, "STLS"); err != nil {
		return err
	}
	return c.do(ctx, func() error {
		if c.br.Buffered() > 0 {
			// Bytes after "+OK" before the handshake: a man in the middle
			// injecting plaintext (the CVE-2011-0411 class).
			return errors.New("pop3client: server sent data after the STLS reply")
		}
		tc, err := tlsutil.ClientUpgrade(ctx, c.nc, tlsutil.ClientConfig(cmp.Or(cfg, c.opts.TLSConfig), c.serverName, "pop3"))
		if err != nil {
			return err
		}
		c.setConn(tc)
		c.setTLS(tc)
		c.caps = nil
		return nil
	})
}

// User logs in with USER and PASS (RFC 1939 §7). Without TLS it fails
// with sasl.ErrInsecureAuth unless Options.AllowInsecureAuth is set.
func (c *Client) User(ctx context.Context, username, password string) error {
	if !c.isTLS && !c.opts.AllowInsecureAuth {
		return sasl.ErrInsecureAuth
	}
	if strings.ContainsAny(username, " \r\n") || strings.ContainsAny(password, "\r\n") {
		return errors.New("pop3client: user name or password contains a line break or space")
	}
	if err := c.checkUTF8User(ctx, username, password); err != nil {
		return err
	}
	if _, err := c.simple(ctx, "USER %s", username); err != nil {
		return err
	}
	_, err := c.simple(ctx, "PASS %s", password)
	return err
}

// APOP logs in with APOP (RFC 1939 §7) using the timestamp of the
// greeting. APOP does not send the secret, but MD5 is weak; prefer TLS and
// SASL.
func (c *Client) APOP(ctx context.Context, username, secret string) error {
	g := c.greeting.Text
	i := strings.IndexByte(g, '<')
	j := strings.LastIndexByte(g, '>')
	if i < 0 || j < i {
		return fmt.Errorf("%w: no APOP timestamp in the greeting", ErrNotSupported)
	}
	if strings.ContainsAny(username, " \r\n") {
		return errors.New("pop3client: user name contains a line break or space")
	}
	if err := c.checkUTF8User(ctx, username, secret); err != nil {
		return err
	}
	if !isASCII(username) || !isASCII(secret) {
		// RFC 6856 §2.2: with UTF-8 credentials the APOP name is
		// prepared as a query string and the secret as a stored string.
		var err error
		if username, err = sasl.SASLprepQuery(username); err != nil {
			return err
		}
		if secret, err = sasl.SASLprep(secret); err != nil {
			return err
		}
	}
	sum := md5.Sum([]byte(g[i:j+1] + secret))
	_, err := c.simple(ctx, "APOP %s %s", username, hex.EncodeToString(sum[:]))
	return err
}

// Login authenticates with a user name and password, choosing from the
// capabilities (RFC 2449 §5): the strongest SASL mechanism the server
// offers and sasl.Choose allows (SCRAM, -PLUS over TLS, then PLAIN), else
// USER/PASS. A server without CAPA gets USER/PASS. Without TLS, PLAIN and
// USER/PASS fail with sasl.ErrInsecureAuth unless
// Options.AllowInsecureAuth is set.
func (c *Client) Login(ctx context.Context, username, password string) error {
	caps, err := c.capabilities(ctx)
	if err != nil {
		return err
	}
	if offered := caps.SASL(); len(offered) > 0 {
		mech, err := sasl.Choose(offered, sasl.ClientOptions{
			Username:       username,
			Password:       password,
			TLS:            c.isTLS,
			ChannelBinding: c.cb,
			AllowPlaintext: c.opts.AllowInsecureAuth,
		})
		if err == nil {
			return c.Auth(ctx, mech)
		}
		if !caps.Has("USER") {
			return err
		}
	}
	return c.User(ctx, username, password)
}

// Auth runs one SASL exchange with the mechanism mech (RFC 5034 §4). The
// initial response goes on the AUTH line when it fits in 255 octets. A
// mechanism that sends the password or token itself (sasl.SendsSecret) is
// refused without TLS with sasl.ErrInsecureAuth unless
// Options.AllowInsecureAuth is set.
func (c *Client) Auth(ctx context.Context, mech sasl.Client) error {
	name, ir, err := mech.Start()
	if err != nil {
		return err
	}
	if sasl.SendsSecret(name) && !c.isTLS && !c.opts.AllowInsecureAuth {
		return sasl.ErrInsecureAuth
	}
	return c.do(ctx, func() error {
		pending := ir
		if ir != nil {
			enc := "="
			if len(ir) > 0 {
				enc = base64.StdEncoding.EncodeToString(ir)
			}
			if len("AUTH "+name+" "+enc) <= 253 {
				c.writeCmd("AUTH %s %s", name, enc)
				pending = nil
			} else {
				c.writeCmd("AUTH %s", name)
			}
		} else if err := c.writeCmd("AUTH %s", name); err != nil {
			return err
		}
		if err := c.bw.Flush(); err != nil {
			return err
		}
		for {
			r, err := c.readResponse()
			if err != nil {
				return err
			}
			switch r.Status {
			case pop3.StatusOK:
				// SCRAM checks the server's signature here.
				if cm, ok := mech.(sasl.Completer); ok {
					if err := cm.Complete(); err != nil {
						return &pop3.Error{Code: pop3.CodeAuth, Text: "server failed mutual authentication: " + err.Error()}
					}
				}
				return nil
			case pop3.StatusErr:
				return r.Err()
			}
			var resp []byte
			if pending != nil {
				resp, pending = pending, nil
			} else {
				challenge, derr := base64.StdEncoding.Strict().DecodeString(r.Text)
				if derr == nil {
					resp, derr = mech.Next(challenge)
				}
				if derr != nil {
					// RFC 5034 §4: cancel with "*"; the server answers -ERR.
					c.bw.WriteString("*\r\n")
					if err := c.bw.Flush(); err != nil {
						return err
					}
					if _, err := c.readResponse(); err != nil {
						return err
					}
					return &pop3.Error{Text: "authentication cancelled: " + derr.Error()}
				}
			}
			c.bw.WriteString(base64.StdEncoding.EncodeToString(resp))
			c.bw.WriteString("\r\n")
			if err := c.bw.Flush(); err != nil {
				return err
			}
		}
	})
}

// checkUTF8User refuses UTF-8 credentials unless the server advertises
// "UTF8 USER": RFC 6856 §2.2 forbids sending them otherwise.
func (c *Client) checkUTF8User(ctx context.Context, username, password string) error {
	if isASCII(username) && isASCII(password) {
		return nil
	}
	caps, err := c.capabilities(ctx)
	if err != nil {
		return err
	}
	if !caps.UTF8User() {
		return fmt.Errorf("%w: UTF-8 user names and passwords need the UTF8 USER capability", ErrNotSupported)
	}
	return nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// UTF8 enables UTF-8 mode (RFC 6856 §2.1). Call it before logging in and
// after StartTLS.
func (c *Client) UTF8(ctx context.Context) error {
	_, err := c.simple(ctx, "UTF8")
	return err
}
