package mime

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// summary is one line per part, in message order:
//
//	<depth dots><type/subtype> [enc] {defects} "decoded body (Text)"
//
// Bodies longer than 40 bytes are cut and followed by their length.
func summarize(t testing.TB, data []byte, lim Limits) []string {
	t.Helper()
	var parts []*Part
	var bodies []string
	var out []string
	r := NewReader(bytes.NewReader(data), lim)
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			out = append(out, "error: "+err.Error())
			break
		}
		body, err := io.ReadAll(r.Text())
		if err != nil {
			t.Fatalf("reading body: %v", err)
		}
		parts = append(parts, p)
		bodies = append(bodies, string(body))
	}
	// Defects of containers are known only once they end, so format
	// after the walk.
	lines := make([]string, 0, len(parts)+len(out))
	for i, p := range parts {
		line := strings.Repeat(".", p.Depth) + p.ContentType()
		if p.Encoding != "" {
			line += " [" + p.Encoding + "]"
		}
		if len(p.Defects) > 0 {
			var ks []string
			for _, d := range p.Defects {
				ks = append(ks, d.Kind.String())
			}
			line += " {" + strings.Join(ks, ", ") + "}"
		}
		if b := bodies[i]; len(b) > 0 || !p.IsMultipart() && !p.IsMessage() {
			if len(b) > 40 {
				b = fmt.Sprintf("%s…(%d)", b[:40], len(b))
			}
			line += fmt.Sprintf(" %q", b)
		}
		lines = append(lines, line)
	}
	return append(lines, out...)
}

func TestCorpusDump(t *testing.T) {
	if os.Getenv("MIME_CORPUS_DUMP") == "" {
		t.Skip("set MIME_CORPUS_DUMP=1 to print the corpus summaries")
	}
	files, _ := filepath.Glob("testdata/corpus/*.eml")
	for _, f := range files {
		data, _ := os.ReadFile(f)
		fmt.Printf("{%q, Limits{}, []string{\n", filepath.Base(f))
		for _, l := range summarize(t, data, Limits{}) {
			fmt.Printf("\t%q,\n", l)
		}
		fmt.Printf("}},\n")
	}
}

// corpusCases is the expected outcome for each hostile or broken message
// in testdata/corpus (see summarize for the notation).
var corpusCases = []struct {
	file string
	lim  Limits
	want []string
}{
	{"8bit-headers.eml", Limits{}, []string{
		"multipart/mixed",
		".text/plain [8bit] \"Grüße\"",
		".application/octet-stream [base64] \"PDF\"",
	}},
	{"antispam-headers.eml", Limits{}, []string{
		"text/plain [quoted-printable] \"Grüße aus dem Exchange-Land. Soft brea…(51)\"",
	}},
	{"base64-garbage.eml", Limits{}, []string{
		"multipart/mixed",
		".application/octet-stream [base64] {invalid base64 characters} \"hello world!\"",
		".application/octet-stream [base64] {invalid base64 padding} \"hello\"",
		".application/octet-stream [base64] \"abcdef\"",
	}},
	{"boundary-whitespace.eml", Limits{}, []string{
		"multipart/mixed",
		".text/plain \"first\"",
		".text/plain \"second\"",
	}},
	{"crcrlf.eml", Limits{}, []string{
		"multipart/alternative",
		".text/plain \"plain text\\r\\r\\nsecond line\"",
		".text/html \"<p>html</p>\"",
	}},
	{"deeply-nested.eml", Limits{}, []string{
		"multipart/mixed",
		".multipart/mixed",
		"..multipart/mixed",
		"...multipart/mixed",
		"....multipart/mixed",
		".....multipart/mixed",
		"......multipart/mixed",
		".......multipart/mixed",
		"........multipart/mixed",
		".........multipart/mixed",
		"..........multipart/mixed",
		"...........multipart/mixed",
		"............multipart/mixed",
		".............multipart/mixed",
		"..............multipart/mixed",
		"...............multipart/mixed",
		"................multipart/mixed",
		".................multipart/mixed",
		"..................multipart/mixed",
		"...................multipart/mixed",
		"....................multipart/mixed",
		".....................multipart/mixed",
		"......................multipart/mixed",
		".......................multipart/mixed",
		"........................multipart/mixed",
		".........................multipart/mixed",
		"..........................multipart/mixed",
		"...........................multipart/mixed",
		"............................multipart/mixed",
		".............................multipart/mixed",
		"..............................multipart/mixed",
		"...............................multipart/mixed",
		"................................multipart/mixed {limit exceeded} \"--n32\\r\\nContent-Type: multipart/mixed; bo…(509)\"",
	}},
	{"digest.eml", Limits{}, []string{
		"multipart/digest",
		".message/rfc822",
		"..text/plain \"one\"",
		".message/rfc822",
		"..text/plain \"two\"",
		".text/plain \"explicit text\"",
	}},
	{"empty-boundary.eml", Limits{}, []string{
		"multipart/mixed {multipart without boundary} \"--\\r\\nContent-Type: text/plain\\r\\n\\r\\nnot a pa…(50)\"",
	}},
	{"euc-kr-rfc2231.eml", Limits{}, []string{
		"multipart/mixed",
		".text/plain [base64] \"안녕하세요.\"",
		".application/octet-stream [base64] \"hangul file\"",
	}},
	{"huge-header.eml", Limits{}, []string{
		"text/plain \"body after a huge header\\r\\n\"",
	}},
	{"inner-boundary-missing.eml", Limits{}, []string{
		"multipart/mixed",
		".multipart/alternative {missing final boundary}",
		"..text/plain \"inner text\"",
		"..text/html \"<p>inner html</p>\"",
		".text/plain \"after the outer boundary\"",
	}},
	{"lf-only.eml", Limits{}, []string{
		"multipart/mixed",
		".text/plain \"line one\\nline two\"",
		".text/plain [quoted-printable] \"café\"",
	}},
	{"malformed-content-type.eml", Limits{}, []string{
		"multipart/mixed",
		".text/plain {malformed Content-Type} \"no subtype: read as text/plain\"",
		".text/plain {malformed Content-Type} \"nothing at all\"",
		".text/html [8bit] {malformed Content-Type} \"<b>param without value</b>\"",
		".application/pdf [base64] {malformed Content-Type} \"%PDF-\"",
	}},
	{"missing-final-boundary.eml", Limits{}, []string{
		"multipart/mixed {missing final boundary}",
		".text/plain \"first part\"",
		".application/octet-stream [base64] \"hello world\"",
	}},
	{"nested-rfc822.eml", Limits{}, []string{
		"multipart/mixed",
		".text/plain \"See the forwarded message.\"",
		".message/rfc822",
		"..multipart/alternative",
		"...text/plain [quoted-printable] \"Grüße\"",
		"...text/html \"<p>Gr&uuml;&szlig;e</p>\"",
	}},
	{"no-headers.eml", Limits{}, []string{
		"text/plain {missing header/body separator} \"This message has no header at all.\\r\\nIt s…(68)\"",
	}},
	{"nul-bytes.eml", Limits{}, []string{
		"application/octet-stream \"binary\\x00with\\x00nuls\\r\\n\"",
	}},
	{"part-without-header.eml", Limits{}, []string{
		"multipart/mixed",
		".text/plain {missing header/body separator} \"just text, no header, no blank line\"",
		".text/plain \"text after an empty header\"",
	}},
	{"qp-broken.eml", Limits{}, []string{
		"text/plain [quoted-printable] {invalid quoted-printable escape} \"bad =ZZ escape and =4 short one\\r\\nsoftbre…(63)\"",
	}},
	// RFC 2046 §5.1.1: a boundary does not end in white space; the
	// parameter's trailing space is not part of it.
	{"boundary-param-space.eml", Limits{}, []string{
		"multipart/mixed",
		".text/plain \"found\"",
	}},
	// Content-Length means nothing in MIME: the boundaries decide.
	{"wrong-length.eml", Limits{}, []string{
		"multipart/mixed",
		".text/plain \"short body\"",
		".text/plain \"longer body than stated\"",
	}},
	// Limits turn into defects, never into a failed message...
	{"huge-header.eml", Limits{MaxHeaderBytes: 8192}, []string{
		"text/plain {limit exceeded} \"body after a huge header\\r\\n\"",
	}},
	{"deeply-nested.eml", Limits{MaxDepth: 2}, []string{
		"multipart/mixed",
		".multipart/mixed",
		"..multipart/mixed {limit exceeded} \"--n2\\r\\nContent-Type: multipart/mixed; bou…(2436)\"",
	}},
	// ...except MaxParts, which stops the walk.
	{"nested-rfc822.eml", Limits{MaxParts: 3}, []string{
		"multipart/mixed",
		".text/plain \"See the forwarded message.\"",
		".message/rfc822",
		"error: mime: parts limit 3 exceeded at offset 374",
	}},
}

func TestCorpus(t *testing.T) {
	for _, c := range corpusCases {
		t.Run(c.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata/corpus", c.file))
			if err != nil {
				t.Fatal(err)
			}
			got := summarize(t, data, c.lim)
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("got\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(c.want, "\n\t"))
			}
			checkIndex(t, data, c.lim)
		})
	}
}
