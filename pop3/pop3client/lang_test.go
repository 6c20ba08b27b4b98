package pop3client_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/posthorn/posthorn/pop3"
	"github.com/posthorn/posthorn/pop3/internal/pop3fake"
	"github.com/posthorn/posthorn/pop3/pop3client"
	"github.com/posthorn/posthorn/pop3/pop3server"
)

// RFC 6856 §3: LANG lists and selects languages; the machine-readable
// parts of later replies do not change.
func TestLang(t *testing.T) {
	e := env(t, &pop3server.Server{
		DefaultLanguage: "sv",
		Languages: []pop3server.Language{
			{Tag: "es", Description: "Español", Texts: map[string]string{
				"language changed": "Idioma cambiado",
				"no such message":  "no existe el mensaje",
			}},
			{Tag: "sv-SE", Description: "Svenska"},
		},
	})
	ctx := ctxT(t)
	c := dialSTLS(t, e)
	langs, err := c.Lang(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []pop3.Language{{Tag: "en", Description: "English"}, {Tag: "es", Description: "Español"}, {Tag: "sv-SE", Description: "Svenska"}}
	if !slices.Equal(langs, want) {
		t.Fatalf("Lang = %+v", langs)
	}
	// In order (not a map): the last one, Spanish, is what LIST 99 uses.
	for _, tc := range []struct{ rng, tag string }{{"ES", "es"}, {"sv", "sv-SE"}, {"*", "sv-SE"}, {"es", "es"}} {
		got, err := c.SetLang(ctx, tc.rng)
		if err != nil || got != tc.tag {
			t.Fatalf("SetLang(%q) = %q, %v; want %q", tc.rng, got, err, tc.tag)
		}
	}
	var pe *pop3.Error
	if _, err := c.SetLang(ctx, "uga"); !errors.As(err, &pe) {
		t.Fatalf("SetLang(uga) = %v", err)
	}
	if err := c.Login(ctx, "alice", "secret"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListOne(ctx, 99); !errors.As(err, &pe) || pe.Text != "no existe el mensaje" {
		t.Fatalf("LIST 99 = %v", err)
	}
	if n, _, err := c.Stat(ctx); err != nil || n != len(dotty) {
		t.Fatalf("STAT after LANG = %d, %v", n, err)
	}
	c.Quit(ctx)
}

// RFC 6856 §2.2: UTF-8 credentials with USER/PASS and APOP when the server
// advertises "UTF8 USER"; APOP prepares name and secret with SASLprep on
// both sides.
func TestUTF8User(t *testing.T) {
	e := env(t, &pop3server.Server{Backend: pop3fake.SecretBackend{Backend: pop3fake.NewBackend()}, EnableAPOP: true})
	e.Backend.AddUser("jörg", "pässwörd")
	ctx := ctxT(t)
	c := dialSTLS(t, e)
	caps, err := c.Capa(ctx)
	if err != nil || !caps.UTF8User() {
		t.Fatalf("CAPA: UTF8User = %v, %v", caps.UTF8User(), err)
	}
	// A compatibility form of the name and a decomposed password.
	if err := c.User(ctx, "ｊörg", "pa\u0308sswörd"); err != nil {
		t.Fatal(err)
	}
	c.Quit(ctx)
	c = dialSTLS(t, e)
	if err := c.APOP(ctx, "jörg", "pa\u0308sswörd"); err != nil {
		t.Fatal(err)
	}
	c.Quit(ctx)
}

// RFC 6856 §2.2: without "UTF8 USER" the client sends no UTF-8
// credentials at all.
func TestUTF8UserNotAdvertised(t *testing.T) {
	addr := fakeServer(t, "+OK hi\r\n", [][2]string{{"CAPA", "+OK\r\nUSER\r\nUTF8\r\n.\r\n"}})
	ctx := ctxT(t)
	c, err := pop3client.Dial(ctx, addr, &pop3client.Options{AllowInsecureAuth: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.User(ctx, "jörg", "x"); !errors.Is(err, pop3client.ErrNotSupported) {
		t.Fatalf("User = %v, want ErrNotSupported", err)
	}
}
