package vocab

import (
	"context"
	"crypto/tls"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/posthorn/posthorn/imap/imapclient"
	"github.com/posthorn/posthorn/pop3/pop3client"
	"github.com/posthorn/posthorn/sasl"
	"github.com/posthorn/posthorn/smtp/smtpclient"
)

// names collects a package's exported top-level names, methods (as
// "Type.Method", interface methods too) and struct fields ("Type.Field")
// from its source.
func names(t *testing.T, dir string) map[string]bool {
	t.Helper()
	fset := token.NewFileSet()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if d.Recv == nil {
					out[d.Name.Name] = true
					continue
				}
				typ := d.Recv.List[0].Type
				if st, ok := typ.(*ast.StarExpr); ok {
					typ = st.X
				}
				if id, ok := typ.(*ast.Ident); ok {
					out[id.Name+"."+d.Name.Name] = true
				}
			case *ast.GenDecl:
				for _, s := range d.Specs {
					switch s := s.(type) {
					case *ast.ValueSpec:
						for _, n := range s.Names {
							out[n.Name] = true
						}
					case *ast.TypeSpec:
						out[s.Name.Name] = true
						if st, ok := s.Type.(*ast.StructType); ok {
							for _, fl := range st.Fields.List {
								for _, n := range fl.Names {
									out[s.Name.Name+"."+n.Name] = true
								}
							}
						}
						if it, ok := s.Type.(*ast.InterfaceType); ok {
							for _, m := range it.Methods.List {
								for _, n := range m.Names {
									out[s.Name.Name+"."+n.Name] = true
								}
							}
						}
					}
				}
			}
		}
	}
	return out
}

// TestClientTable checks every name in the README's "Clients" table
// against the package it stands for.
func TestClientTable(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(readme), "### Clients\n")
	if !ok {
		t.Fatal(`README has no "### Clients" table`)
	}
	dirs := []string{"../../smtp/smtpclient", "../../imap/imapclient", "../../pop3/pop3client"}
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
		if len(cells) != 4 || strings.Contains(cells[1], "---") || strings.Contains(cells[1], "smtpclient") {
			continue
		}
		rows++
		for i, cell := range cells[1:] {
			for _, m := range ident.FindAllStringSubmatch(cell, -1) {
				name := m[1]
				if strings.HasPrefix(name, "errors.") || strings.HasPrefix(name, "sasl.") {
					continue
				}
				if !pkgNames[i][name] {
					t.Errorf("README names %s in %s, which does not declare it", name, filepath.Base(dirs[i]))
				}
			}
		}
	}
	if rows < 10 {
		t.Fatalf("found only %d rows in the Clients table", rows)
	}
}

// TestClientShapes checks that the shared methods and options have one
// signature in the three clients.
func TestClientShapes(t *testing.T) {
	ctx := reflect.TypeFor[context.Context]()
	str := reflect.TypeFor[string]()
	errT := reflect.TypeFor[error]()
	for _, c := range []struct {
		client, options reflect.Type
	}{
		{reflect.TypeFor[*smtpclient.Client](), reflect.TypeFor[smtpclient.Options]()},
		{reflect.TypeFor[*imapclient.Client](), reflect.TypeFor[imapclient.Options]()},
		{reflect.TypeFor[*pop3client.Client](), reflect.TypeFor[pop3client.Options]()},
	} {
		want := map[string]reflect.Type{
			"Login":              reflect.FuncOf([]reflect.Type{c.client, ctx, str, str}, []reflect.Type{errT}, false),
			"Auth":               reflect.FuncOf([]reflect.Type{c.client, ctx, reflect.TypeFor[sasl.Client]()}, []reflect.Type{errT}, false),
			"StartTLS":           reflect.FuncOf([]reflect.Type{c.client, ctx, reflect.TypeFor[*tls.Config]()}, []reflect.Type{errT}, false),
			"TLSConnectionState": reflect.FuncOf([]reflect.Type{c.client}, []reflect.Type{reflect.TypeFor[tls.ConnectionState](), reflect.TypeFor[bool]()}, false),
			"Noop":               reflect.FuncOf([]reflect.Type{c.client, ctx}, []reflect.Type{errT}, false),
			"Close":              reflect.FuncOf([]reflect.Type{c.client}, []reflect.Type{errT}, false),
		}
		for name, typ := range want {
			m, ok := c.client.MethodByName(name)
			if !ok || m.Type != typ {
				t.Errorf("%v.%s: got %v, want %v", c.client, name, m.Type, typ)
			}
		}
		fields := map[string]reflect.Type{
			"AllowInsecureAuth": reflect.TypeFor[bool](),
			"Trace":             reflect.TypeFor[io.Writer](),
			"TLSConfig":         reflect.TypeFor[*tls.Config](),
		}
		for name, typ := range fields {
			f, ok := c.options.FieldByName(name)
			if !ok || f.Type != typ {
				t.Errorf("%v.%s: got %v, want %v", c.options, name, f.Type, typ)
			}
		}
	}
}
