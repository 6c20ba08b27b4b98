package dns

import (
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// FuzzParseResponse feeds arbitrary datagrams to the answer parser: it
// must not panic and must keep the records it returns bounded.
func FuzzParseResponse(f *testing.F) {
	q := dnsmessage.Question{Name: dnsmessage.MustNewName("example.test."), Type: dnsmessage.TypeTXT, Class: dnsmessage.ClassINET}
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: 7, Response: true})
	b.StartQuestions()
	b.Question(q)
	b.StartAnswers()
	b.CNAMEResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 60}, dnsmessage.CNAMEResource{CNAME: dnsmessage.MustNewName("b.test.")})
	b.TXTResource(dnsmessage.ResourceHeader{Name: dnsmessage.MustNewName("b.test."), Class: dnsmessage.ClassINET, TTL: 60}, dnsmessage.TXTResource{TXT: []string{"v=spf1 -all"}})
	msg, _ := b.Finish()
	f.Add(msg)
	f.Add([]byte{0, 7, 0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, msg []byte) {
		resp, _, err := parseResponse(msg, 7, q)
		if err == nil && resp != nil && len(resp.Records) > maxRecords {
			t.Fatalf("%d records", len(resp.Records))
		}
	})
}
