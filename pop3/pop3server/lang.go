package pop3server

import (
	"fmt"
	"strings"

	"github.com/posthorn/posthorn/pop3"
)

// Language is a language the LANG command (RFC 6856 §3) can switch the
// human-readable response texts to.
//
// Only the text after "+OK " or "-ERR " and after a response code such as
// "[AUTH] " is translated: status indicators, response codes, numbers
// that clients parse (STAT, LIST, UIDL, RETR sizes) and multi-line data
// never change.
type Language struct {
	// Tag is the language tag (RFC 5646), such as "de" or "pt-BR".
	Tag string
	// Description names the language in itself ("Deutsch"). It follows the
	// tag in the LANG listing; "" lists the tag alone.
	Description string
	// Texts maps the English texts this package sends to their
	// translations. A text with variable parts is keyed by its format
	// string, and its translation must keep the same verbs in the same
	// order: "%s has %d messages (%d octets)" -> "%[1]s hat %[2]d
	// Nachrichten (%[3]d Oktette)". Texts that are missing go out in
	// English. Translations may use any UTF-8: after a successful LANG the
	// client expects UTF-8 text (RFC 6856 §3.2).
	Texts map[string]string
}

// english is the built-in language: no translations.
var english = Language{Tag: "en", Description: "English"}

// languages returns the languages LANG offers: English first (unless the
// Server replaces it), then Server.Languages.
func (s *Server) languages() []Language {
	for _, l := range s.Languages {
		if strings.EqualFold(l.Tag, "en") {
			return s.Languages
		}
	}
	return append([]Language{english}, s.Languages...)
}

// validRange reports whether r is a basic language range (RFC 4647 §2.1):
// 1*8ALPHA *("-" 1*8alphanum) / "*".
func validRange(r string) bool {
	if r == "*" {
		return true
	}
	for i, sub := range strings.Split(r, "-") {
		if len(sub) < 1 || len(sub) > 8 {
			return false
		}
		for _, ch := range []byte(sub) {
			alpha := ch|0x20 >= 'a' && ch|0x20 <= 'z'
			digit := ch >= '0' && ch <= '9'
			if !alpha && (i == 0 || !digit) {
				return false
			}
		}
	}
	return true
}

// matchLanguage picks an offered language that the basic language range r
// matches by basic filtering (RFC 4647 §3.3.1): the tag equals r,
// or starts with r followed by "-", ignoring case. "*" selects the
// administrator's preferred language (RFC 6856 §3.2), DefaultLanguage.
func (s *Server) matchLanguage(r string) (Language, bool) {
	langs := s.languages()
	if r == "*" {
		r = s.DefaultLanguage
		if r == "" {
			r = "en"
		}
	}
	// Of the tags basic filtering selects, an exact match is preferred,
	// then the first in the server's order.
	for _, l := range langs {
		if strings.EqualFold(l.Tag, r) {
			return l, true
		}
	}
	for _, l := range langs {
		t := l.Tag
		if len(t) > len(r) && t[len(r)] == '-' && strings.EqualFold(t[:len(r)], r) {
			return l, true
		}
	}
	return Language{}, false
}

// cmdLang handles LANG (RFC 6856 §3), valid in AUTHORIZATION and
// TRANSACTION.
func (c *conn) cmdLang(cmd pop3.Command) {
	switch len(cmd.Args) {
	case 0:
		// RFC 6856 §3.2: a language listing, one "tag description" line
		// per language, the description in UTF-8 even before UTF8 (the
		// client asked for this format by sending LANG).
		c.reply("+OK language listing follows")
		for _, l := range c.srv.languages() {
			line := l.Tag
			if l.Description != "" {
				line += " " + l.Description
			}
			c.reply(line)
		}
		c.reply(".")
		return
	case 1:
	default:
		c.reply("-ERR LANG takes at most one language range")
		return
	}
	r := cmd.Args[0]
	if !validRange(r) {
		c.reply("-ERR invalid language range")
		return
	}
	l, ok := c.srv.matchLanguage(r)
	if !ok {
		// RFC 6856 §3.2: the previous language stays in effect.
		c.reply("-ERR unsupported language")
		return
	}
	c.lang, c.texts = l.Tag, l.Texts
	// RFC 6856 §3.2: the text is UTF-8 from this response on.
	c.utf8Text = true
	// "+OK", the exact tag selected, then text in that language.
	c.reply("+OK " + l.Tag + " " + c.translate("language changed"))
}

// translate returns the current language's text for the English key.
func (c *conn) translate(key string) string {
	if t, ok := c.texts[key]; ok && t != "" {
		return t
	}
	return key
}

// replyRaw queues a status line whose text clients parse (the STAT drop
// listing, the RETR size): it is never translated.
func (c *conn) replyRaw(format string, args ...any) {
	fmt.Fprintf(c.bw, format, args...)
	c.bw.WriteString("\r\n")
}

// localize translates the human-readable part of a status line (or of
// the format string of one): what follows "+OK " or "-ERR " and an
// optional response code. Other lines (multi-line data) pass unchanged.
func (c *conn) localize(line string) string {
	if len(c.texts) == 0 {
		return line
	}
	var head, text string
	switch {
	case strings.HasPrefix(line, "+OK "):
		head, text = line[:4], line[4:]
	case strings.HasPrefix(line, "-ERR "):
		head, text = line[:5], line[5:]
	default:
		return line
	}
	if strings.HasPrefix(text, "[") {
		if i := strings.Index(text, "] "); i > 0 {
			head, text = head+text[:i+2], text[i+2:]
		}
	}
	if t, ok := c.texts[text]; ok && t != "" {
		return head + t
	}
	return line
}

// textOut keeps protocol text within what the client accepts: before UTF8
// or LANG, nothing outside ASCII may be sent (RFC 6856 §2.1), so each
// other character (or invalid octet) becomes "?".
func (c *conn) textOut(s string) string {
	if c.utf8Text {
		return s
	}
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			var b strings.Builder
			for _, r := range s {
				if r >= 0x80 {
					r = '?'
				}
				b.WriteRune(r)
			}
			return b.String()
		}
	}
	return s
}
