package imapmsg

import (
	"bufio"
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/posthorn/posthorn/imap"
	"github.com/posthorn/posthorn/internal/imapwire"
	"github.com/posthorn/posthorn/internal/testpeer"
)

// dovecotFetch appends the file to a private Dovecot and returns the raw
// FETCH response data for items.
func dovecotFetch(t *testing.T, dc *testpeer.Dovecot, file, items string, env ...string) []byte {
	t.Helper()
	script := `
import imaplib, os, sys
host, port = os.environ["ADDR"].rsplit(":", 1)
c = imaplib.IMAP4(host, int(port))
c.login("alice", "alicepw")
c.select("INBOX")
c.store("1:*", "+FLAGS.SILENT", "(\\Deleted)") if int(c.select("INBOX")[1][0]) else None
c.expunge()
data = open(os.environ["FILE"], "rb").read()
c.append("INBOX", None, None, data)
c.select("INBOX")
typ, resp = c.fetch("1", os.environ["ITEMS"])
out = b""
if os.environ.get("JSON"):
    import json
    lits = [[p[0].decode("latin-1"), p[1].decode("latin-1")] for p in resp if isinstance(p, tuple)]
    out = json.dumps(lits).encode()
else:
    for part in resp:
        if isinstance(part, tuple):
            out += part[0] + b"\r\n" + part[1]
        else:
            out += part
sys.stdout.buffer.write(out)
c.logout()
`
	return testpeer.RunPython(t, script, append([]string{"ADDR=" + dc.IMAP, "FILE=" + file, "ITEMS=" + items}, env...)...)
}

// TestAgainstDovecot compares ENVELOPE, BODYSTRUCTURE and sections with
// what Dovecot computes for the same messages. Case of tokens and parameter
// order differ between servers; the structures must otherwise agree.
func TestAgainstDovecot(t *testing.T) {
	testpeer.Need(t, "dovecot", "dovecot-imapd")
	testpeer.Python(t)
	dc := testpeer.StartDovecot(t, testpeer.DovecotOptions{})
	for _, name := range []string{"simple.eml", "multipart.eml"} {
		file := "testdata/" + name
		raw := dovecotFetch(t, dc, file, "(ENVELOPE BODYSTRUCTURE)")
		t.Logf("%s: dovecot: %s", name, raw)
		m := load(t, name)
		// Parse Dovecot's reply: "1 (ENVELOPE (...) BODYSTRUCTURE (...))"
		i := bytes.Index(raw, []byte("ENVELOPE "))
		j := bytes.Index(raw, []byte(" BODYSTRUCTURE "))
		if i < 0 || j < 0 {
			t.Fatalf("unexpected reply %q", raw)
		}
		d := imapwire.NewDecoder(bufio.NewReader(bytes.NewReader(raw[i+9:])), imapwire.Limits{})
		env, err := d.ReadEnvelope()
		if err != nil {
			t.Fatalf("dovecot envelope: %v", err)
		}
		d = imapwire.NewDecoder(bufio.NewReader(bytes.NewReader(raw[j+15:])), imapwire.Limits{})
		bs, err := d.ReadBodyStructure()
		if err != nil {
			t.Fatalf("dovecot bodystructure: %v", err)
		}
		if got, want := normEnvelope(m.Envelope()), normEnvelope(env); got != want {
			t.Errorf("%s ENVELOPE\n ours    %s\n dovecot %s", name, got, want)
		}
		if got, want := normBody(m.BodyStructure()), normBody(bs); got != want {
			t.Errorf("%s BODYSTRUCTURE\n ours    %s\n dovecot %s", name, got, want)
		}
	}

	// Sections: each literal Dovecot returns equals ours byte for byte.
	specs := []string{"BODY.PEEK[1.1]", "BODY.PEEK[1.2.MIME]", "BINARY.PEEK[1.1]", "BINARY.PEEK[2]",
		"BODY.PEEK[3.HEADER]", "BODY.PEEK[3.TEXT]", "BODY.PEEK[3.1]", "BODY.PEEK[HEADER.FIELDS (SUBJECT FROM X-NONE)]",
		"BODY.PEEK[HEADER.FIELDS.NOT (SUBJECT FROM)]", "BODY.PEEK[TEXT]<10.20>", "BODY.PEEK[2]<1000.10>"}
	out := dovecotFetch(t, dc, "testdata/multipart.eml", "("+strings.Join(specs, " ")+")", "JSON=1")
	var lits [][2]string
	if err := json.Unmarshal(out, &lits); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	m := load(t, "multipart.eml")
	for _, lit := range lits {
		// "... BODY[1.1] {69}": the last item name before the literal.
		names := sectionName.FindAllString(lit[0], -1)
		if len(names) == 0 {
			t.Errorf("no item in %q", lit[0])
			continue
		}
		name := names[len(names)-1]
		got, err := section(t, m, partialOffset.ReplaceAllString(strings.Replace(name, "BODY[", "BODY.PEEK[", 1), "<$1.20>"))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if want := latin1(lit[1]); got != want {
			t.Errorf("%s\n ours    %q\n dovecot %q", name, got, want)
		}
	}
	if len(lits) < len(specs)-1 {
		t.Errorf("dovecot returned %d literals for %d items: %q", len(lits), len(specs), lits)
	}
}

var sectionName = regexp.MustCompile(`(BODY|BINARY)\[[^\]]*\]\S*`)

var partialOffset = regexp.MustCompile(`<(\d+)>`)

func latin1(s string) string {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		b = append(b, byte(r))
	}
	return string(b)
}

func normEnvelope(e *imap.Envelope) string {
	return string(imapwire.AppendEnvelope(nil, e))
}

// normBody upper-cases tokens and sorts parameters, so that only
// differences of substance remain.
func normBody(bs *imap.BodyStructure) string {
	return string(imapwire.AppendBodyStructure(nil, normCopy(bs), true))
}

func normCopy(bs *imap.BodyStructure) *imap.BodyStructure {
	c := *bs
	c.MediaType, c.SubType = strings.ToUpper(c.MediaType), strings.ToUpper(c.SubType)
	c.Encoding = strings.ToUpper(c.Encoding)
	c.Disposition = strings.ToUpper(c.Disposition)
	c.Params = normParams(c.Params)
	c.DispositionParams = normParams(c.DispositionParams)
	c.Children = nil
	for _, ch := range bs.Children {
		c.Children = append(c.Children, normCopy(ch))
	}
	if bs.Body != nil {
		c.Body = normCopy(bs.Body)
	}
	return &c
}

func normParams(ps []imap.Param) []imap.Param {
	out := make([]imap.Param, len(ps))
	for i, p := range ps {
		out[i] = imap.Param{Name: strings.ToUpper(p.Name), Value: p.Value}
		if strings.EqualFold(p.Name, "charset") {
			out[i].Value = strings.ToUpper(p.Value)
		}
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].Name < out[j-1].Name; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}
