package dns

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// exchange asks the servers in turn until one gives a definite answer
// (success or NXDOMAIN).
func (c *Client) exchange(ctx context.Context, qname dnsmessage.Name, typ dnsmessage.Type) (*Response, *net.DNSError) {
	conf, cerr := c.config()
	if cerr != nil {
		return nil, &net.DNSError{Err: "reading resolv.conf: " + cerr.Error(), Name: qname.String(), IsTemporary: true}
	}
	servers := conf.Servers
	c.mu.Lock()
	start := 0
	if conf.Rotate {
		start = int(c.next % uint32(len(servers)))
		c.next++
	}
	c.mu.Unlock()
	var lastErr error
	timeout := false
	for attempt := 0; attempt < conf.Attempts; attempt++ {
		for i := range servers {
			if err := ctx.Err(); err != nil {
				return nil, &net.DNSError{Err: err.Error(), Name: qname.String(), IsTimeout: errors.Is(err, context.DeadlineExceeded), IsTemporary: true}
			}
			server := servers[(start+i)%len(servers)]
			resp, err := ask(ctx, &conf, server, qname, typ)
			if err == nil {
				return resp, nil
			}
			lastErr = err
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				timeout = true
			}
			if c.Logger != nil {
				c.Logger.Debug("dns exchange failed", "server", server.String(), "name", qname.String(), "type", typ.String(), "err", err)
			}
		}
	}
	msg := "no answer"
	if lastErr != nil {
		msg = lastErr.Error()
	}
	return nil, &net.DNSError{Err: msg, Name: qname.String(), IsTimeout: timeout, IsTemporary: true}
}

// errRCode is a server's answer that is neither success nor NXDOMAIN.
type errRCode dnsmessage.RCode

func (e errRCode) Error() string { return "server answered " + dnsmessage.RCode(e).String() }

func ask(ctx context.Context, conf *Config, server netip.AddrPort, qname dnsmessage.Name, typ dnsmessage.Type) (*Response, error) {
	id := uint16(rand.Uint32())
	q := dnsmessage.Question{Name: qname, Type: typ, Class: dnsmessage.ClassINET}
	query, err := buildQuery(id, q)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, conf.Timeout)
	defer cancel()
	raw, err := exchangeUDP(ctx, server, id, q, query)
	if err != nil {
		return nil, err
	}
	resp, truncated, err := parseResponse(raw, id, q)
	if err == nil && truncated {
		// RFC 7766 §5: a truncated UDP answer is asked again over TCP.
		raw, err = exchangeTCP(ctx, server, query)
		if err != nil {
			return nil, err
		}
		resp, _, err = parseResponse(raw, id, q)
	}
	if err != nil {
		return nil, err
	}
	if resp.RCode != dnsmessage.RCodeSuccess && resp.RCode != dnsmessage.RCodeNameError {
		return nil, errRCode(resp.RCode)
	}
	resp.Authentic = resp.Authentic && conf.trusts(server)
	return resp, nil
}

// trusts reports whether the AD bit from server counts (RFC 7672 §2.1.3).
func (conf *Config) trusts(server netip.AddrPort) bool {
	return conf.TrustAD || server.Addr().Unmap().IsLoopback()
}

func buildQuery(id uint16, q dnsmessage.Question) ([]byte, error) {
	// RFC 6840 §5.7: a stub asks for the AD bit by setting it in the query.
	b := dnsmessage.NewBuilder(make([]byte, 2, 512), dnsmessage.Header{ID: id, RecursionDesired: true, AuthenticData: true})
	b.EnableCompression()
	if err := b.StartQuestions(); err != nil {
		return nil, err
	}
	if err := b.Question(q); err != nil {
		return nil, err
	}
	if err := b.StartAdditionals(); err != nil {
		return nil, err
	}
	var rh dnsmessage.ResourceHeader
	if err := rh.SetEDNS0(udpSize, dnsmessage.RCodeSuccess, false); err != nil {
		return nil, err
	}
	if err := b.OPTResource(rh, dnsmessage.OPTResource{}); err != nil {
		return nil, err
	}
	msg, err := b.Finish()
	if err != nil {
		return nil, err
	}
	// The first two bytes are room for the TCP length prefix.
	binary.BigEndian.PutUint16(msg, uint16(len(msg)-2))
	return msg, nil
}

func exchangeUDP(ctx context.Context, server netip.AddrPort, id uint16, q dnsmessage.Question, query []byte) ([]byte, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "udp", server.String())
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	if _, err := conn.Write(query[2:]); err != nil {
		return nil, err
	}
	buf := make([]byte, udpSize+256)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctxTimeout{ctx.Err()}
			}
			return nil, err
		}
		// A datagram whose ID or question differs is not our answer: keep
		// reading (RFC 5452 §9.1).
		if _, _, err := parseResponse(buf[:n], id, q); errors.Is(err, errMismatch) {
			continue
		}
		return append([]byte(nil), buf[:n]...), nil
	}
}

// ctxTimeout reports a context's end as a net.Error timeout.
type ctxTimeout struct{ err error }

func (e ctxTimeout) Error() string   { return e.err.Error() }
func (e ctxTimeout) Timeout() bool   { return true }
func (e ctxTimeout) Temporary() bool { return true }

func exchangeTCP(ctx context.Context, server netip.AddrPort, query []byte) ([]byte, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", server.String())
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	if _, err := conn.Write(query); err != nil {
		return nil, err
	}
	var l [2]byte
	if _, err := io.ReadFull(conn, l[:]); err != nil {
		return nil, err
	}
	buf := make([]byte, binary.BigEndian.Uint16(l[:]))
	if _, err := io.ReadFull(conn, buf); err != nil {
		return nil, err
	}
	return buf, nil
}

var errMismatch = errors.New("dns: answer does not match the query")

// maxRecords bounds the answer records kept from one message.
const maxRecords = 512

// parseResponse decodes an answer to q. It returns the records of q.Type at
// the end of the CNAME chain that starts at q.Name, and the TTL the answer
// may be cached for.
func parseResponse(msg []byte, id uint16, q dnsmessage.Question) (*Response, bool, error) {
	var p dnsmessage.Parser
	h, err := p.Start(msg)
	if err != nil {
		return nil, false, err
	}
	if h.ID != id || !h.Response {
		return nil, false, errMismatch
	}
	qs, err := p.AllQuestions()
	if err != nil {
		return nil, false, err
	}
	if len(qs) != 1 || qs[0].Type != q.Type || qs[0].Class != q.Class || !strings.EqualFold(qs[0].Name.String(), q.Name.String()) {
		return nil, false, errMismatch
	}
	if h.Truncated {
		return nil, true, nil
	}
	resp := &Response{Name: q.Name.String(), Type: q.Type, RCode: h.RCode, Authentic: h.AuthenticData}
	if h.RCode != dnsmessage.RCodeSuccess && h.RCode != dnsmessage.RCodeNameError {
		return resp, false, nil
	}
	answers := make([]dnsmessage.Resource, 0, 4)
	for len(answers) < maxRecords {
		r, err := p.Answer()
		if errors.Is(err, dnsmessage.ErrSectionDone) {
			break
		}
		if err != nil {
			return nil, false, err
		}
		if r.Header.Class == dnsmessage.ClassINET {
			answers = append(answers, r)
		}
	}
	// Follow the CNAME chain from the question name.
	cur := strings.ToLower(q.Name.String())
	ttl := time.Duration(-1)
	seen := map[string]bool{cur: true}
	for range MaxCNAMEHops {
		next := ""
		for _, r := range answers {
			if cn, ok := r.Body.(*dnsmessage.CNAMEResource); ok && q.Type != dnsmessage.TypeCNAME && strings.EqualFold(r.Header.Name.String(), cur) {
				next = strings.ToLower(cn.CNAME.String())
				ttl = minTTL(ttl, r.Header.TTL)
				break
			}
		}
		if next == "" || seen[next] {
			break
		}
		seen[next] = true
		resp.CNAMEs = append(resp.CNAMEs, next)
		cur = next
	}
	for _, r := range answers {
		if r.Header.Type == q.Type && strings.EqualFold(r.Header.Name.String(), cur) {
			resp.Records = append(resp.Records, r)
			ttl = minTTL(ttl, r.Header.TTL)
		}
	}
	if len(resp.Records) == 0 {
		// A negative answer: cache it for the SOA's negative TTL
		// (RFC 2308 §5), and not at all without an SOA.
		ttl = 0
		if err := p.SkipAllAnswers(); err == nil || errors.Is(err, dnsmessage.ErrSectionDone) {
			for {
				ah, err := p.AuthorityHeader()
				if err != nil {
					break
				}
				if ah.Type != dnsmessage.TypeSOA {
					if p.SkipAuthority() != nil {
						break
					}
					continue
				}
				soa, err := p.SOAResource()
				if err != nil {
					break
				}
				ttl = time.Duration(min(ah.TTL, soa.MinTTL)) * time.Second
				break
			}
		}
	}
	resp.TTL = max(ttl, 0)
	if q.Type == dnsmessage.TypeTXT {
		resp.txt = make([]string, 0, len(resp.Records))
		for _, r := range resp.Records {
			if t, ok := r.Body.(*dnsmessage.TXTResource); ok {
				resp.txt = append(resp.txt, strings.Join(t.TXT, ""))
			}
		}
	}
	return resp, false, nil
}

func minTTL(cur time.Duration, ttl uint32) time.Duration {
	d := time.Duration(ttl) * time.Second
	if cur < 0 || d < cur {
		return d
	}
	return cur
}
