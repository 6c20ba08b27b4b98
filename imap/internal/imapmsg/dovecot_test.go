package imapmsg

import (
	"bufio"
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/posthorn/posthorn/imap"
	"github.com/posthorn/posthorn/imap/internal/imapwire"
	"github.com/posthorn/posthorn/internal/testpeer"
)

// fetchReq is one message appended to Dovecot and the items fetched.
type fetchReq struct {
	File  string `json:"file"`
	Items string `json:"items"`
}

// fetchResp is Dovecot's answer: the response with literals inlined, and
// the literals themselves (prefix, data), as Latin-1 strings.
type fetchResp struct {
	Raw  string      `json:"raw"`
	Lits [][2]string `json:"lits"`
}

// dovecotFetch appends each file to a private Dovecot in one session and
// returns the FETCH responses for the items.
func dovecotFetch(t *testing.T, dc *testpeer.Dovecot, reqs []fetchReq) []fetchResp {
	t.Helper()
	script := `
import imaplib, json, os, sys
host, port = os.environ["ADDR"].rsplit(":", 1)
c = imaplib.IMAP4(host, int(port))
c.login("alice", "alicepw")
out = []
for i, req in enumerate(json.loads(os.environ["REQS"])):
    c.append("INBOX", None, None, open(req["file"], "rb").read())
    c.select("INBOX")
    typ, resp = c.fetch(str(i + 1), req["items"])
    raw, lits = b"", []
    for part in resp:
        if isinstance(part, tuple):
            raw += part[0] + b"\r\n" + part[1]
            lits.append([part[0].decode("latin-1"), part[1].decode("latin-1")])
        else:
            raw += part
    out.append({"raw": raw.decode("latin-1"), "lits": lits})
c.logout()
sys.stdout.write(json.dumps(out))
`
	js, _ := json.Marshal(reqs)
	out := testpeer.RunPython(t, script, "ADDR="+dc.IMAP, "REQS="+string(js))
	var resps []fetchResp
	if err := json.Unmarshal(out, &resps); err != nil || len(resps) != len(reqs) {
		t.Fatalf("%v: %s", err, out)
	}
	return resps
}

// TestAgainstDovecot compares ENVELOPE, BODYSTRUCTURE and sections with
// what Dovecot computes for the same messages. Case of tokens and parameter
// order differ between servers; the structures must otherwise agree.
func TestAgainstDovecot(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Dovecot; skipped with -short")
	}
	testpeer.Need(t, "dovecot", "dovecot-imapd")
	testpeer.Python(t)
	dc := testpeer.StartDovecot(t, testpeer.DovecotOptions{})
	// Sections: each literal Dovecot returns must equal ours byte for byte.
	specs := []string{"BODY.PEEK[1.1]", "BODY.PEEK[1.2.MIME]", "BINARY.PEEK[1.1]", "BINARY.PEEK[2]",
		"BODY.PEEK[3.HEADER]", "BODY.PEEK[3.TEXT]", "BODY.PEEK[3.1]", "BODY.PEEK[HEADER.FIELDS (SUBJECT FROM X-NONE)]",
		"BODY.PEEK[HEADER.FIELDS.NOT (SUBJECT FROM)]", "BODY.PEEK[TEXT]<10.20>", "BODY.PEEK[2]<1000.10>"}
	// unterminated.eml ends without a line break: body-fld-lines (RFC 9051
	// §7.5.2) counts line breaks, so its last partial line is not counted.
	files := []string{"simple.eml", "multipart.eml", "unterminated.eml"}
	var reqs []fetchReq
	for _, f := range files {
		reqs = append(reqs, fetchReq{"testdata/" + f, "(ENVELOPE BODYSTRUCTURE)"})
	}
	reqs = append(reqs, fetchReq{"testdata/multipart.eml", "(" + strings.Join(specs, " ") + ")"})
	resps := dovecotFetch(t, dc, reqs)
	for k, name := range files {
		raw := []byte(resps[k].Raw)
		m := load(t, name)
		// Parse Dovecot's reply: "n (ENVELOPE (...) BODYSTRUCTURE (...))"
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
		// Both sides go through the client's decoder, which joins and
		// decodes RFC 2231 parameters: the wire bytes are compared raw.
		if got, want := normBody(decodeOurs(t, m.BodyStructure())), normBody(bs); got != want {
			t.Errorf("%s BODYSTRUCTURE\n ours    %s\n dovecot %s", name, got, want)
		}
	}
	lits := resps[len(files)].Lits
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

var (
	sectionName   = regexp.MustCompile(`(BODY|BINARY)\[[^\]]*\]\S*`)
	partialOffset = regexp.MustCompile(`<(\d+)>`)
)

func latin1(s string) string {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		b = append(b, byte(r))
	}
	return string(b)
}

// decodeOurs encodes bs as the server sends it and reads it back with the
// client's decoder, as Dovecot's reply is read.
func decodeOurs(t *testing.T, bs *imap.BodyStructure) *imap.BodyStructure {
	t.Helper()
	enc := imapwire.AppendBodyStructure(nil, bs, true)
	d := imapwire.NewDecoder(bufio.NewReader(bytes.NewReader(append(enc, '\r', '\n'))), imapwire.Limits{})
	out, err := d.ReadBodyStructure()
	if err != nil {
		t.Fatalf("our bodystructure %s: %v", enc, err)
	}
	return out
}
