package webinbox

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// browserMsg has an HTML part with a script that must not run (it would
// add #injected and retitle the page) and a PDF attachment.
const browserMsg = "From: Shop <shop@example.org>\r\nTo: bob@example.org\r\nSubject: Receipt\r\nMIME-Version: 1.0\r\n" +
	"Content-Type: multipart/mixed; boundary=b\r\n\r\n" +
	"--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" +
	"<p id=\"hello\">Hello Bob</p><script>var e=document.createElement('div');e.id='injected';document.body.appendChild(e);parent.document.title='pwned'</script>\r\n" +
	"--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"receipt.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQKJcOkw7zDtsOfCjEgMCBvYmoKPDw+PgplbmRvYmoK\r\n" +
	"--b--\r\n"

// TestBrowser drives the inbox in headless Chromium (Debian's chromium and
// chromium-driver, with python3-selenium): a static --dump-dom could not
// see live updates.
func TestBrowser(t *testing.T) {
	for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromedriver"} {
		if _, err := os.Stat(p); err != nil {
			skipOrFail(t, p+" not installed (Debian packages chromium, chromium-driver)")
		}
	}
	if err := exec.Command("/usr/bin/python3", "-c", "import selenium").Run(); err != nil {
		skipOrFail(t, "selenium not importable by /usr/bin/python3 (Debian package python3-selenium)")
	}
	st, srv := newInbox(t)
	dir := t.TempDir()
	want := filepath.Join(dir, "want.pdf")
	if err := os.WriteFile(want, []byte("%PDF-1.4\n%\xc3\xa4\xc3\xbc\xc3\xb6\xc3\x9f\n1 0 obj\n<<>>\nendobj\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/usr/bin/python3", "testdata/browser.py", srv.URL, dir, "receipt.pdf", want)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	var lines []string
	for sc.Scan() {
		line := sc.Text()
		lines = append(lines, line)
		if line == "READY" {
			if _, err := st.Deliver(ctx, "bob", strings.NewReader(browserMsg)); err != nil {
				t.Fatal(err)
			}
			io.WriteString(stdin, "go\n")
		}
	}
	err := cmd.Wait()
	t.Logf("browser: %s", strings.Join(lines, "; "))
	if err != nil {
		t.Fatalf("browser checks failed: %v\n%s", err, stderr.String())
	}
	for _, want := range []string{"live update: ok", "html sandbox: ok", "attachment: ok"} {
		if !strings.Contains(strings.Join(lines, "\n"), want) {
			t.Errorf("missing %q", want)
		}
	}
}

func skipOrFail(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("POSTHORN_REQUIRE_PEERS") != "" {
		t.Fatalf("peer required by POSTHORN_REQUIRE_PEERS=1: %s", why)
	}
	t.Skip(why)
}
