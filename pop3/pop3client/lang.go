package pop3client

import (
	"context"
	"fmt"
	"strings"

	"github.com/posthorn/posthorn/pop3"
)

// Lang asks for the languages the server can use for response texts
// (RFC 6856 §3.2, LANG without an argument). The order is the server's.
func (c *Client) Lang(ctx context.Context) ([]pop3.Language, error) {
	var langs []pop3.Language
	err := c.do(ctx, func() error {
		if err := c.writeCmd("LANG"); err != nil {
			return err
		}
		if err := c.bw.Flush(); err != nil {
			return err
		}
		if _, err := c.readOK(); err != nil {
			return err
		}
		var bad error
		err := c.readLines(func(line []byte) error {
			l, err := pop3.ParseLanguage(line)
			if err != nil {
				// Read on to the end, so the session stays in step.
				if bad == nil {
					bad = err
				}
				return nil
			}
			langs = append(langs, l)
			return nil
		})
		if err != nil {
			return err
		}
		return bad
	})
	return langs, err
}

// SetLang asks the server to use the language that the basic language
// range rng matches (RFC 4647: "de" matches "de" and "de-CH"; "*" asks
// for the server's preferred one) for human-readable response texts from
// this response on, and returns the tag the server selected (RFC 6856
// §3.2). The texts are then UTF-8; status indicators and response codes do
// not change. On -ERR the previous language stays in effect.
func (c *Client) SetLang(ctx context.Context, rng string) (tag string, err error) {
	if rng == "" || strings.ContainsAny(rng, " \t\r\n") {
		return "", fmt.Errorf("pop3client: invalid language range %q", rng)
	}
	r, err := c.simple(ctx, "LANG %s", rng)
	if err != nil {
		return "", err
	}
	tag, _, _ = strings.Cut(r.Text, " ")
	if tag == "" {
		return "", &pop3.SyntaxError{What: "response", Msg: "LANG response without a language tag"}
	}
	return tag, nil
}
