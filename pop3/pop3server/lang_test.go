package pop3server_test

import (
	"crypto/tls"
	"testing"

	"github.com/posthorn/posthorn/pop3/internal/pop3fake"
	"github.com/posthorn/posthorn/pop3/pop3server"
)

func langServer() *pop3server.Server {
	return &pop3server.Server{
		AllowInsecureAuth: true,
		DefaultLanguage:   "es",
		Languages: []pop3server.Language{
			{Tag: "en-boont", Description: "English Boontling dialect"},
			{Tag: "es", Description: "Español", Texts: map[string]string{
				"language changed":                   "Idioma cambiado",
				"unsupported language":               "Idioma no es conocido",
				"no such message":                    "no existe el mensaje",
				"authentication failed":              "autenticación fallida",
				"%s has %d messages (%d octets)":     "%[1]s tiene %[2]d mensajes (%[3]d octetos)",
				"message needs UTF8 mode":            "el mensaje necesita el modo UTF8",
				"unknown command or wrong state: %s": "orden desconocida: %s",
			}},
			{Tag: "sv", Description: "Svenska", Texts: map[string]string{
				"language changed": `Kommandot "LANG" lyckades`,
			}},
		},
	}
}

// RFC 6856 §3.3, the examples, on our server. Only the human-readable
// text changes: status, response codes, tags and numbers stay.
func TestLang(t *testing.T) {
	env := start(t, langServer())
	c := pop3fake.Dial(t, env.Addr)
	c.Script(`
		S: +OK POP3 server ready
		C: LANG es
		S: +OK es Idioma cambiado
		C: USER alice
		S: +OK send PASS
		C: PASS wrong
		S: -ERR [AUTH] autenticación fallida
		C: USER alice
		S: +OK send PASS
		C: PASS secret
		S: +OK alice tiene 2 mensajes (144 octetos)
		C: LANG MUL
		S: -ERR Idioma no es conocido
		C: LANG
		S: +OK language listing follows
		S: en English
		S: en-boont English Boontling dialect
		S: es Español
		S: sv Svenska
		S: .
		C: LIST 3
		S: -ERR no existe el mensaje
		C: STAT
		S: +OK 2 144
		C: LANG uga
		S: -ERR Idioma no es conocido
		C: LANG sv
		S: +OK sv Kommandot "LANG" lyckades
		C: LANG *
		S: +OK es Idioma cambiado
		C: XYZZ
		S: -ERR orden desconocida: XYZZ
		C: LANG EN
		S: +OK en language changed
		C: LIST 3
		S: -ERR no such message
		C: LANG en-BOONT
		S: +OK en-boont language changed
		C: LANG a_b
		S: -ERR invalid language range
		C: LANG es sv
		S: -ERR LANG takes at most one language range
		C: QUIT
		S: +OK bye
	`)
	c.ExpectClosed()
}

// RFC 6856 §2.1, §5: the [UTF8] response code is kept in any language.
func TestLangKeepsResponseCodes(t *testing.T) {
	env := start(t, langServer())
	env.Backend.Deliver("alice", []byte("Subject: caf\xc3\xa9\r\n\r\nx\r\n"))
	c := pop3fake.Dial(t, env.Addr)
	c.Script(`
		S: +OK*
		C: LANG es
		S: +OK es Idioma cambiado
		C: USER alice
		S: +OK*
		C: PASS secret
		S: +OK*
		C: RETR 3
		S: -ERR [UTF8] el mensaje necesita el modo UTF8
	`)
}

// Without Languages, LANG offers English only.
func TestLangEnglishOnly(t *testing.T) {
	env := start(t, nil)
	c := pop3fake.Dial(t, env.Addr)
	c.Script(`
		S: +OK*
		C: LANG
		S: +OK language listing follows
		S: en English
		S: .
		C: LANG *
		S: +OK en language changed
		C: LANG de
		S: -ERR unsupported language
	`)
}

// RFC 6856 §2.2: with "UTF8 USER" advertised, USER and PASS may carry
// UTF-8 before the UTF8 command; the server prepares both with SASLprep
// (query strings), so a compatibility form and a decomposed password reach
// the stored account, and refuses prohibited characters. Nothing but ASCII
// is sent back before UTF8 (§2.1).
func TestUTF8User(t *testing.T) {
	env := start(t, nil)
	env.Backend.AddUser("jörg", "pässwörd")
	c := pop3fake.Dial(t, env.Addr)
	c.Script(`
		S: +OK*
		C: USER ｊörg
		S: +OK send PASS
		C: PASS pa` + "\u0308" + `sswörd
		S: +OK j?rg has 0 messages (0 octets)
		C: QUIT
		S: +OK bye
	`)
	c = pop3fake.Dial(t, env.Addr)
	c.Script(`
		S: +OK*
		C: UTF8
		S: +OK UTF8 enabled
		C: USER jörg
		S: +OK send PASS
		C: PASS pässwörd
		S: +OK jörg has 0 messages (0 octets)
	`)
	c = pop3fake.Dial(t, env.Addr)
	c.Script(`
		S: +OK*
		C: USER jörg` + "\ue000" + `
		S: +OK send PASS
		C: PASS pässwörd
		S: -ERR [AUTH] authentication failed
		C: USER j` + "\xff" + `rg
		S: -ERR USER takes one user name
	`)
}

// RFC 6856 §7: a LANG before STLS may come from a man in the middle, so
// the language is back to English after the handshake.
func TestLangForgottenAfterSTLS(t *testing.T) {
	env := start(t, langServer())
	c := pop3fake.Dial(t, env.Addr)
	c.Script(`
		S: +OK*
		C: LANG es
		S: +OK es Idioma cambiado
		C: STLS
		S: +OK begin TLS negotiation`)
	c = pop3fake.Wrap(t, tls.Client(c.NetConn(), env.Cert.ClientConfig()))
	c.Script(`
		C: LANG uga
		S: -ERR unsupported language
	`)
}

// Machine-readable replies are never translated, whatever the table
// holds (RFC 6856 §3.2 localizes human-readable text only).
func TestLangNeverTranslatesData(t *testing.T) {
	srv := &pop3server.Server{AllowInsecureAuth: true, Languages: []pop3server.Language{{Tag: "xx", Texts: map[string]string{
		"%d %d":            "%d und %d",
		"%d octets":        "%d Oktette",
		"language changed": "ok",
	}}}}
	env := start(t, srv)
	c := pop3fake.Dial(t, env.Addr)
	c.Script(`
		S: +OK*
		C: USER alice
		S: +OK*
		C: PASS secret
		S: +OK*
		C: LANG xx
		S: +OK xx ok
		C: STAT
		S: +OK 2 144
		C: LIST 2
		S: +OK 2 77
		C: UIDL 1
		S: +OK 1 uid-1
		C: RETR 2
		S: +OK 77 octets
	`)
}
