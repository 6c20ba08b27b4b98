package webinbox

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/imap/imapserver/imapmem"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const htmlMsg = "From: Shop <shop@example.org>\r\nTo: bob@example.org\r\nSubject: Receipt\r\nMIME-Version: 1.0\r\n" +
	"Content-Type: multipart/mixed; boundary=b\r\n\r\n" +
	"--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p id=\"hello\">Hello <b>Bob</b></p><script>parent.document.title='pwned'</script><img src=\"https://tracker.example/x.png\">\r\n" +
	"--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"r.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n" +
	"--b--\r\n"

func newInbox(t *testing.T) (*imapmem.Store, *httptest.Server) {
	st := imapmem.New()
	require.NoError(t, st.AddUser("bob", "pw"))
	require.NoError(t, st.AddUser("carol", "pw"))
	in := &Inbox{Store: st, Users: func() []string { return []string{"bob", "carol"} }}
	srv := httptest.NewServer(in.Handler())
	t.Cleanup(func() { srv.Close(); in.Close() })
	return st, srv
}

func getJSON(t *testing.T, url string, v any) int {
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.NoError(t, json.NewDecoder(resp.Body).Decode(v))
	return resp.StatusCode
}

func TestAPI(t *testing.T) {
	st, srv := newInbox(t)
	ctx := context.Background()
	_, err := st.Deliver(ctx, "bob", strings.NewReader(htmlMsg))
	require.NoError(t, err)
	time.Sleep(10 * time.Millisecond)
	_, err = st.Deliver(ctx, "carol", strings.NewReader("Subject: second\r\nTo: carol@example.org\r\n\r\nhi\r\n"))
	require.NoError(t, err)

	var list []Summary
	require.Equal(t, 200, getJSON(t, srv.URL+"/api/v1/messages", &list))
	require.Len(t, list, 2)
	assert.Equal(t, "second", list[0].Subject, "newest first")
	assert.Equal(t, "Receipt", list[1].Subject)
	assert.Equal(t, []string{"bob@example.org"}, list[1].To)

	var d Detail
	require.Equal(t, 200, getJSON(t, srv.URL+"/api/v1/messages/bob/1", &d))
	assert.Contains(t, d.HTML, "Hello <b>Bob</b>")
	var names []string
	for _, p := range d.Parts {
		if p.Attachment {
			names = append(names, p.Filename)
		}
	}
	assert.Equal(t, []string{"r.pdf"}, names)

	resp, err := http.Get(srv.URL + "/m/bob/1/part/2")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, "%PDF-1.4\n", string(body))
	assert.Contains(t, resp.Header.Get("Content-Disposition"), "r.pdf")

	// The HTML part: sandboxed, no script, no remote images by default.
	resp, err = http.Get(srv.URL + "/m/bob/1/html")
	require.NoError(t, err)
	resp.Body.Close()
	csp := resp.Header.Get("Content-Security-Policy")
	assert.Contains(t, csp, "sandbox")
	assert.Contains(t, csp, "script-src 'none'")
	assert.NotContains(t, csp, "https:")

	resp, err = http.Get(srv.URL + "/api/v1/messages/bob/1/raw")
	require.NoError(t, err)
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, htmlMsg, string(raw))

	// Unknown user or message.
	resp, err = http.Get(srv.URL + "/api/v1/messages/mallory/1")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 404, resp.StatusCode)

	req, _ := http.NewRequest(http.MethodDelete, srv.URL+"/api/v1/messages/bob/1", nil)
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 204, resp.StatusCode)
	require.Equal(t, 200, getJSON(t, srv.URL+"/api/v1/messages", &list))
	assert.Len(t, list, 1)

	// The page lists the message.
	resp, err = http.Get(srv.URL + "/")
	require.NoError(t, err)
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Contains(t, string(page), ">second</a>")
}

// The wait blocks until the message arrives, then returns at once.
func TestWait(t *testing.T) {
	st, srv := newInbox(t)
	done := make(chan []Summary, 1)
	start := time.Now()
	go func() {
		var got []Summary
		getJSON(t, srv.URL+"/api/v1/wait?n=1&to=bob@example.org&timeout=10s", &got)
		done <- got
	}()
	time.Sleep(100 * time.Millisecond)
	_, err := st.Deliver(context.Background(), "carol", strings.NewReader("Subject: not for bob\r\nTo: carol@example.org\r\n\r\n"))
	require.NoError(t, err)
	_, err = st.Deliver(context.Background(), "bob", strings.NewReader(htmlMsg))
	require.NoError(t, err)
	got := <-done
	require.Len(t, got, 1)
	assert.Equal(t, "Receipt", got[0].Subject)
	assert.Less(t, time.Since(start), 5*time.Second)

	// Timeout: 408 with what matched.
	resp, err := http.Get(srv.URL + "/api/v1/wait?n=5&timeout=100ms")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusRequestTimeout, resp.StatusCode)
}

// Server-sent events announce new mail.
func TestEvents(t *testing.T) {
	st, srv := newInbox(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/api/v1/events", nil)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	buf := make([]byte, 256)
	n, _ := resp.Body.Read(buf) // ": connected"
	require.Contains(t, string(buf[:n]), "connected")
	_, err = st.Deliver(ctx, "bob", strings.NewReader(htmlMsg))
	require.NoError(t, err)
	var got bytes.Buffer
	for !strings.Contains(got.String(), "event: message") {
		n, err := resp.Body.Read(buf)
		require.NoError(t, err)
		got.Write(buf[:n])
	}
}
