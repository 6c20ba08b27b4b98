package vocab

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/imap/imapserver"
	"github.com/posthorn/posthorn/pop3/pop3server"
	"github.com/posthorn/posthorn/sasl"
	"github.com/posthorn/posthorn/smtp/smtpserver"
)

// TestServerTable checks every name in the README's "Servers" table
// against the package it stands for.
func TestServerTable(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(readme), "### Servers\n")
	if !ok {
		t.Fatal(`README has no "### Servers" table`)
	}
	dirs := []string{"../../smtp/smtpserver", "../../imap/imapserver", "../../pop3/pop3server"}
	pkgNames := make([]map[string]bool, len(dirs))
	for i, d := range dirs {
		pkgNames[i] = names(t, filepath.Clean(d))
	}
	ident := regexp.MustCompile("`([A-Za-z][A-Za-z.]*)(\\(|`)")
	rows := 0
	for _, line := range strings.Split(after, "\n") {
		if !strings.HasPrefix(line, "|") {
			if rows > 0 {
				break
			}
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) != 4 || strings.Contains(cells[1], "---") || strings.Contains(cells[1], "smtpserver") {
			continue
		}
		rows++
		for i, cell := range cells[1:] {
			for _, m := range ident.FindAllStringSubmatch(cell, -1) {
				if !pkgNames[i][m[1]] {
					t.Errorf("README names %s in %s, which does not declare it", m[1], filepath.Base(dirs[i]))
				}
			}
		}
	}
	if rows < 15 {
		t.Fatalf("found only %d rows in the Servers table", rows)
	}
}

// TestServerShapes checks that the shared methods, fields and types have
// one shape in the three servers.
func TestServerShapes(t *testing.T) {
	ctx := reflect.TypeFor[context.Context]()
	ln := reflect.TypeFor[net.Listener]()
	errT := reflect.TypeFor[error]()
	for _, c := range []struct {
		server, limits, connInfo, connEvent, authEvent reflect.Type
	}{
		{reflect.TypeFor[*smtpserver.Server](), reflect.TypeFor[smtpserver.Limits](), reflect.TypeFor[smtpserver.ConnInfo](), reflect.TypeFor[smtpserver.ConnEvent](), reflect.TypeFor[smtpserver.AuthEvent]()},
		{reflect.TypeFor[*imapserver.Server](), reflect.TypeFor[imapserver.Limits](), reflect.TypeFor[imapserver.ConnInfo](), reflect.TypeFor[imapserver.ConnEvent](), reflect.TypeFor[imapserver.AuthEvent]()},
		{reflect.TypeFor[*pop3server.Server](), reflect.TypeFor[pop3server.Limits](), reflect.TypeFor[pop3server.ConnInfo](), reflect.TypeFor[pop3server.ConnEvent](), reflect.TypeFor[pop3server.AuthEvent]()},
	} {
		methods := map[string]reflect.Type{
			"Serve":             reflect.FuncOf([]reflect.Type{c.server, ln}, []reflect.Type{errT}, false),
			"ServeTLS":          reflect.FuncOf([]reflect.Type{c.server, ln}, []reflect.Type{errT}, false),
			"ListenAndServe":    reflect.FuncOf([]reflect.Type{c.server}, []reflect.Type{errT}, false),
			"ListenAndServeTLS": reflect.FuncOf([]reflect.Type{c.server}, []reflect.Type{errT}, false),
			"Shutdown":          reflect.FuncOf([]reflect.Type{c.server, ctx}, []reflect.Type{errT}, false),
			"Close":             reflect.FuncOf([]reflect.Type{c.server}, []reflect.Type{errT}, false),
		}
		for name, typ := range methods {
			m, ok := c.server.MethodByName(name)
			if !ok || m.Type != typ {
				t.Errorf("%v.%s: got %v, want %v", c.server, name, m.Type, typ)
			}
		}
		fields := map[string]reflect.Type{
			"Addr":               reflect.TypeFor[string](),
			"Hostname":           reflect.TypeFor[string](),
			"TLSConfig":          reflect.TypeFor[*tls.Config](),
			"Auth":               reflect.TypeFor[*sasl.Registry](),
			"AllowInsecureAuth":  reflect.TypeFor[bool](),
			"ProxyTrusted":       reflect.TypeFor[[]netip.Prefix](),
			"ProxyHeaderTimeout": reflect.TypeFor[time.Duration](),
			"Logger":             reflect.TypeFor[*slog.Logger](),
			"Trace":              reflect.TypeFor[io.Writer](),
			"Limits":             c.limits,
		}
		for name, typ := range fields {
			f, ok := c.server.Elem().FieldByName(name)
			if !ok || f.Type != typ {
				t.Errorf("%v.%s: got %v, want %v", c.server.Elem(), name, f.Type, typ)
			}
		}
		limits := map[string]reflect.Type{
			"MaxConnections":      reflect.TypeFor[int](),
			"MaxConnectionsPerIP": reflect.TypeFor[int](),
			"MaxAuthFailures":     reflect.TypeFor[int](),
			"AuthFailureDelay":    reflect.TypeFor[time.Duration](),
		}
		for name, typ := range limits {
			f, ok := c.limits.FieldByName(name)
			if !ok || f.Type != typ {
				t.Errorf("%v.%s: got %v, want %v", c.limits, name, f.Type, typ)
			}
		}
		// One type each, aliased in the three packages.
		if c.connInfo != reflect.TypeFor[smtpserver.ConnInfo]() || c.connEvent != reflect.TypeFor[smtpserver.ConnEvent]() || c.authEvent != reflect.TypeFor[smtpserver.AuthEvent]() {
			t.Errorf("%v: ConnInfo, ConnEvent and AuthEvent are not the shared types", c.server)
		}
	}
}
