package mime

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/testpeer"
)

func TestReadReportPostfix(t *testing.T) {
	f, err := os.Open("testdata/dsn/postfix-bounce.eml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := ReadReport(f, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.ReportType != "delivery-status" || len(rep.Defects) != 0 {
		t.Errorf("report type %q, defects %v", rep.ReportType, rep.Defects)
	}
	if !strings.Contains(rep.HumanReadable, "User unknown") {
		t.Errorf("human-readable part: %q", rep.HumanReadable)
	}
	ds := rep.Status
	if ds.ReportingMTA != (TypedValue{"dns", "mx.example.org"}) || ds.Fields.Get("X-Postfix-Queue-ID") != " 4A1B2C3D" && strings.TrimSpace(ds.Fields.Get("X-Postfix-Queue-ID")) != "4A1B2C3D" {
		t.Errorf("per-message fields: %+v", ds)
	}
	if ds.ArrivalDate.IsZero() {
		t.Error("Arrival-Date not parsed")
	}
	if len(ds.Recipients) != 2 {
		t.Fatalf("%d recipients", len(ds.Recipients))
	}
	r0, r1 := ds.Recipients[0], ds.Recipients[1]
	// RFC 3464 §2.3
	if r0.FinalRecipient != (TypedValue{"rfc822", "nobody@example.net"}) || r0.OriginalRecipient.Value != "nobody@example.net" ||
		r0.Action != ActionFailed || r0.Status != "5.1.1" || r0.StatusClass() != 5 ||
		r0.RemoteMTA != (TypedValue{"dns", "mail.example.net"}) || r0.DiagnosticCode.Type != "smtp" ||
		!strings.HasPrefix(r0.DiagnosticCode.Value, "550 5.1.1 <nobody@example.net>: Recipient address") {
		t.Errorf("recipient 1: %+v", r0)
	}
	// RFC 6533 §3: the utf-8 address type with its \x{HEX} escapes.
	if r1.FinalRecipient != (TypedValue{"utf-8", "jürgen@example.net"}) || r1.Action != ActionDelayed || r1.Status != "4.4.1" ||
		r1.StatusClass() != 4 || r1.WillRetryUntil.IsZero() {
		t.Errorf("recipient 2: %+v", r1)
	}
	if got := rep.ReturnedHeader.Get("Message-Id"); strings.TrimSpace(got) != "<orig-1@example.org>" {
		t.Errorf("returned header Message-Id %q", got)
	}
}

func TestReadReportTolerant(t *testing.T) {
	f, err := os.Open("testdata/dsn/sendmail-broken.eml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := ReadReport(f, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	ds := rep.Status
	if len(ds.Recipients) != 2 || ds.Recipients[0].Action != ActionFailed || ds.Recipients[0].FinalRecipient.Type != "rfc822" ||
		ds.Recipients[0].DiagnosticCode != (TypedValue{"x-unix", "mailbox full"}) {
		t.Fatalf("recipients: %+v", ds.Recipients)
	}
	// The second group lacks Final-Recipient and has a bad Action and Status.
	var fields []string
	for _, d := range rep.Defects {
		var fe *DSNFieldError
		if !errors.As(d, &fe) || fe.Group != 2 {
			t.Errorf("unexpected defect %v", d)
			continue
		}
		fields = append(fields, fe.Field)
	}
	if strings.Join(fields, ",") != "Final-Recipient,Action,Status" {
		t.Errorf("defects on fields %v", fields)
	}
	if strings.TrimSpace(rep.ReturnedHeader.Get("Subject")) != "big file" {
		t.Errorf("returned header: %q", rep.ReturnedHeader.Get("Subject"))
	}
}

func TestReadReportNotAReport(t *testing.T) {
	_, err := ReadReport(strings.NewReader("Subject: hi\r\n\r\nbody\r\n"), Limits{})
	if err != ErrNotReport {
		t.Fatalf("got %v", err)
	}
}

func sampleReport() *ReportBuilder {
	return &ReportBuilder{
		From:      "Mail Delivery System <MAILER-DAEMON@mx.example.org>",
		To:        "alice@example.org",
		Date:      time.Date(2024, 1, 2, 10, 5, 0, 0, time.UTC),
		MessageID: "<dsn-1@mx.example.org>",
		Status: DeliveryStatus{
			OriginalEnvelopeID: "QQ314159",
			ReportingMTA:       TypedValue{"dns", "mx.example.org"},
			ArrivalDate:        time.Date(2024, 1, 2, 10, 4, 58, 0, time.UTC),
			Recipients: []RecipientStatus{{
				OriginalRecipient: TypedValue{"rfc822", "nobody@example.net"},
				FinalRecipient:    TypedValue{"rfc822", "nobody@example.net"},
				Action:            ActionFailed,
				Status:            "5.1.1",
				RemoteMTA:         TypedValue{"dns", "mail.example.net"},
				DiagnosticCode:    TypedValue{"smtp", "550 5.1.1 <nobody@example.net>: Recipient address rejected: User unknown in virtual mailbox table"},
			}, {
				FinalRecipient: TypedValue{"utf-8", "jürgen@example.net"},
				Action:         ActionDelayed,
				Status:         "4.4.1",
				WillRetryUntil: time.Date(2024, 1, 5, 10, 4, 58, 0, time.UTC),
			}},
		},
		Original: strings.NewReader("From: Alice <alice@example.org>\nTo: nobody@example.net\nSubject: hello\nMessage-ID: <orig-1@example.org>\n\nHello there.\n"),
	}
}

func TestReportRoundTrip(t *testing.T) {
	for _, headersOnly := range []bool{false, true} {
		b := sampleReport()
		b.HeadersOnly = headersOnly
		var buf bytes.Buffer
		if _, err := b.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		if strings.Contains(strings.ReplaceAll(out, "\r\n", ""), "\n") {
			t.Error("bare LF in the report")
		}
		// 7-bit report: the utf-8 address in its \x{HEX} form (RFC 6533 §3).
		if !strings.Contains(out, `Final-Recipient: utf-8; j\x{FC}rgen@example.net`) {
			t.Errorf("utf-8 address not in 7-bit form:\n%s", out)
		}
		rep, err := ReadReport(&buf, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Defects) > 0 {
			t.Errorf("defects: %v", rep.Defects)
		}
		got, want := rep.Status, b.Status
		if got.OriginalEnvelopeID != want.OriginalEnvelopeID || got.ReportingMTA != want.ReportingMTA || !got.ArrivalDate.Equal(want.ArrivalDate) || len(got.Recipients) != 2 {
			t.Fatalf("status: %+v", got)
		}
		for i := range got.Recipients {
			g, w := got.Recipients[i], want.Recipients[i]
			if g.FinalRecipient != w.FinalRecipient || g.OriginalRecipient != w.OriginalRecipient || g.Action != w.Action ||
				g.Status != w.Status || g.RemoteMTA != w.RemoteMTA || g.DiagnosticCode != w.DiagnosticCode || !g.WillRetryUntil.Equal(w.WillRetryUntil) {
				t.Errorf("recipient %d:\n got %+v\nwant %+v", i, g, w)
			}
		}
		if !strings.Contains(rep.HumanReadable, "nobody@example.net") {
			t.Errorf("human-readable: %q", rep.HumanReadable)
		}
		if strings.TrimSpace(rep.ReturnedHeader.Get("Message-ID")) != "<orig-1@example.org>" {
			t.Errorf("returned header: %q (headers only %v)", rep.ReturnedHeader.Get("Message-ID"), headersOnly)
		}
	}
}

func TestReportBuilderRejects(t *testing.T) {
	b := sampleReport()
	b.Status.Recipients[0].Status = "5.1"
	if _, err := b.WriteTo(&bytes.Buffer{}); err == nil {
		t.Error("bad status accepted")
	}
	b = sampleReport()
	b.Subject = "x\r\nBcc: victim@example.com"
	if _, err := b.WriteTo(&bytes.Buffer{}); err == nil {
		t.Error("header injection accepted")
	}
	b = sampleReport()
	b.Status.Recipients[0].DiagnosticCode.Value = "550 über"
	if _, err := b.WriteTo(&bytes.Buffer{}); err == nil {
		t.Error("non-ASCII in a 7-bit delivery status accepted")
	}
	b.Global = true
	var buf bytes.Buffer
	if _, err := b.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "message/global-delivery-status") || !strings.Contains(buf.String(), "Final-Recipient: utf-8; jürgen@example.net") {
		t.Errorf("global report:\n%s", buf.String())
	}
}

// TestReportPython checks a built report with Python's email package:
// multipart/report with report-type, the three parts, and the status
// groups as Python's delivery-status parser splits them.
func TestReportPython(t *testing.T) {
	testpeer.Python(t)
	var buf bytes.Buffer
	if _, err := sampleReport().WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	path := t.TempDir() + "/dsn.eml"
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out := testpeer.RunPython(t, `
import email, os
m = email.message_from_bytes(open(os.environ["F"], "rb").read())
print(m.get_content_type(), m.get_param("report-type"))
for p in m.get_payload():
    print(p.get_content_type())
ds = m.get_payload()[1]
for g in ds.get_payload():
    print("group", g.get("Reporting-MTA") or g.get("Final-Recipient"), g.get("Action"), g.get("Status"))
print("orig", m.get_payload()[2].get_payload()[0]["Subject"])
print(m.defects, [p.defects for p in m.walk()])
`, "F="+path)
	want := `multipart/report delivery-status
text/plain
message/delivery-status
message/rfc822
group dns; mx.example.org None None
group rfc822; nobody@example.net failed 5.1.1
group utf-8; j\x{FC}rgen@example.net delayed 4.4.1
orig hello
[] [[], [], [], [], [], [], [], []]
`
	if string(out) != want {
		t.Errorf("Python sees\n%s\nwant\n%s", out, want)
	}
}
