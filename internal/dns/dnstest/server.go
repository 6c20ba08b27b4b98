// Package dnstest runs a DNS server on 127.0.0.1 for tests: an
// authoritative-looking answerer over a table of records, on UDP and TCP
// at the same port, with knobs for the failures a resolver must survive
// (SERVFAIL, silence, truncation, the AD bit).
package dnstest

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// Server answers queries from its table. Names not in the table are
// NXDOMAIN; names in it without records of the asked type are "no data".
// Negative answers carry an SOA with a 60-second negative TTL.
type Server struct {
	// Addr is where the server listens (UDP and TCP).
	Addr netip.AddrPort

	mu       sync.Mutex
	records  map[string][]dnsmessage.Resource
	rcode    map[string]dnsmessage.RCode
	silent   map[string]bool
	silentT  map[string]map[dnsmessage.Type]bool
	ad       bool
	adFor    map[string]bool
	truncate bool
	delay    time.Duration
	queries  map[string]int

	udp net.PacketConn
	tcp net.Listener
	wg  sync.WaitGroup
}

// NewServer starts a server and stops it when the test ends.
func NewServer(t testing.TB) *Server {
	t.Helper()
	s := &Server{
		records: map[string][]dnsmessage.Resource{},
		rcode:   map[string]dnsmessage.RCode{},
		silent:  map[string]bool{},
		silentT: map[string]map[dnsmessage.Type]bool{},
		adFor:   map[string]bool{},
		queries: map[string]int{},
	}
	var err error
	for range 20 {
		s.udp, err = net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		s.tcp, err = net.Listen("tcp", s.udp.LocalAddr().String())
		if err == nil {
			break
		}
		s.udp.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	s.Addr = s.udp.LocalAddr().(*net.UDPAddr).AddrPort()
	s.wg.Add(2)
	go s.serveUDP()
	go s.serveTCP()
	t.Cleanup(func() {
		s.udp.Close()
		s.tcp.Close()
		s.wg.Wait()
	})
	return s
}

func key(name string) string {
	name = strings.ToLower(name)
	if !strings.HasSuffix(name, ".") {
		name += "."
	}
	return name
}

// Add puts a record with the given TTL at name. The body's type is the
// record type; for a type dnsmessage has no body for (TLSA), use
// *dnsmessage.UnknownResource.
func (s *Server) Add(name string, ttl uint32, body dnsmessage.ResourceBody) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := key(name)
	s.records[k] = append(s.records[k], dnsmessage.Resource{
		Header: dnsmessage.ResourceHeader{Name: dnsmessage.MustNewName(k), Type: typeOf(body), Class: dnsmessage.ClassINET, TTL: ttl},
		Body:   body,
	})
}

// AddName makes name exist without records (queries get "no data").
func (s *Server) AddName(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.records[key(name)]; !ok {
		s.records[key(name)] = nil
	}
}

// TXT adds a TXT record made of the given strings.
func (s *Server) TXT(name string, strs ...string) {
	s.Add(name, 300, &dnsmessage.TXTResource{TXT: strs})
}

// A adds an A or AAAA record.
func (s *Server) A(name, ip string) {
	a := netip.MustParseAddr(ip)
	if a.Is4() {
		s.Add(name, 300, &dnsmessage.AResource{A: a.As4()})
		return
	}
	s.Add(name, 300, &dnsmessage.AAAAResource{AAAA: a.As16()})
}

// MX adds an MX record.
func (s *Server) MX(name string, pref uint16, host string) {
	s.Add(name, 300, &dnsmessage.MXResource{Pref: pref, MX: dnsmessage.MustNewName(key(host))})
}

// PTR adds a PTR record at a reverse name.
func (s *Server) PTR(name, target string) {
	s.Add(name, 300, &dnsmessage.PTRResource{PTR: dnsmessage.MustNewName(key(target))})
}

// CNAME adds an alias.
func (s *Server) CNAME(name, target string) {
	s.Add(name, 300, &dnsmessage.CNAMEResource{CNAME: dnsmessage.MustNewName(key(target))})
}

// RCode makes every query for name answer with rc (such as
// dnsmessage.RCodeServerFailure).
func (s *Server) RCode(name string, rc dnsmessage.RCode) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rcode[key(name)] = rc
}

// Silent makes queries for name go unanswered (the client times out).
func (s *Server) Silent(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.silent[key(name)] = true
}

// SilentFor makes queries for name of the given type go unanswered.
func (s *Server) SilentFor(name string, typ dnsmessage.Type) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := key(name)
	if s.silentT[k] == nil {
		s.silentT[k] = map[dnsmessage.Type]bool{}
	}
	s.silentT[k][typ] = true
}

// SetAD sets the AD bit on every answer from now on.
func (s *Server) SetAD(ad bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ad = ad
}

// SetADFor sets or clears the AD bit on the answers for name alone,
// whatever SetAD says: a signed name in an unsigned zone or the reverse,
// as DANE tests need (RFC 7672 §2.2).
func (s *Server) SetADFor(name string, ad bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.adFor[key(name)] = ad
}

// SetDelay delays every answer by d.
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// SetTruncate makes every UDP answer empty and truncated, so the client
// must ask again over TCP.
func (s *Server) SetTruncate(tc bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.truncate = tc
}

// Queries returns how many queries for name (any type) arrived.
func (s *Server) Queries(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queries[key(name)]
}

func (s *Server) serveUDP() {
	defer s.wg.Done()
	buf := make([]byte, 65535)
	for {
		n, from, err := s.udp.ReadFrom(buf)
		if err != nil {
			return
		}
		out := s.answer(buf[:n], true)
		if out == nil {
			continue
		}
		s.mu.Lock()
		d := s.delay
		s.mu.Unlock()
		if d > 0 {
			s.wg.Add(1)
			time.AfterFunc(d, func() { defer s.wg.Done(); s.udp.WriteTo(out, from) })
			continue
		}
		s.udp.WriteTo(out, from)
	}
}

func (s *Server) serveTCP() {
	defer s.wg.Done()
	for {
		c, err := s.tcp.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer c.Close()
			for {
				var l [2]byte
				if _, err := io.ReadFull(c, l[:]); err != nil {
					return
				}
				msg := make([]byte, binary.BigEndian.Uint16(l[:]))
				if _, err := io.ReadFull(c, msg); err != nil {
					return
				}
				out := s.answer(msg, false)
				if out == nil {
					return
				}
				binary.BigEndian.PutUint16(l[:], uint16(len(out)))
				if _, err := c.Write(append(l[:], out...)); err != nil {
					return
				}
			}
		}()
	}
}

// answer builds the reply to one query, or nil for none.
func (s *Server) answer(msg []byte, udp bool) []byte {
	var p dnsmessage.Parser
	h, err := p.Start(msg)
	if err != nil {
		return nil
	}
	q, err := p.Question()
	if err != nil {
		return nil
	}
	k := key(q.Name.String())
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queries[k]++
	if s.silent[k] || s.silentT[k][q.Type] {
		return nil
	}
	ad := s.ad
	if v, ok := s.adFor[k]; ok {
		ad = v
	}
	rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired, RecursionAvailable: true, AuthenticData: ad}
	var answers []dnsmessage.Resource
	rrs, exists := s.records[k]
	if rc, ok := s.rcode[k]; ok {
		rh.RCode = rc
	} else if !exists {
		rh.RCode = dnsmessage.RCodeNameError
	} else {
		for _, r := range rrs {
			if r.Header.Type == q.Type || r.Header.Type == dnsmessage.TypeCNAME {
				answers = append(answers, r)
			}
		}
	}
	if udp && s.truncate {
		rh.Truncated = true
		answers = nil
	}
	b := dnsmessage.NewBuilder(nil, rh)
	b.EnableCompression()
	if b.StartQuestions() != nil || b.Question(q) != nil || b.StartAnswers() != nil {
		return nil
	}
	for _, r := range answers {
		if err := addResource(&b, r); err != nil {
			return nil
		}
	}
	if len(answers) == 0 && (rh.RCode == dnsmessage.RCodeSuccess || rh.RCode == dnsmessage.RCodeNameError) && !rh.Truncated {
		if b.StartAuthorities() != nil {
			return nil
		}
		soa := dnsmessage.SOAResource{NS: dnsmessage.MustNewName("ns.test."), MBox: dnsmessage.MustNewName("hostmaster.test."), Serial: 1, Refresh: 3600, Retry: 600, Expire: 86400, MinTTL: 60}
		if b.SOAResource(dnsmessage.ResourceHeader{Name: dnsmessage.MustNewName("test."), Class: dnsmessage.ClassINET, TTL: 3600}, soa) != nil {
			return nil
		}
	}
	out, err := b.Finish()
	if err != nil {
		return nil
	}
	return out
}

func addResource(b *dnsmessage.Builder, r dnsmessage.Resource) error {
	switch body := r.Body.(type) {
	case *dnsmessage.AResource:
		return b.AResource(r.Header, *body)
	case *dnsmessage.AAAAResource:
		return b.AAAAResource(r.Header, *body)
	case *dnsmessage.TXTResource:
		return b.TXTResource(r.Header, *body)
	case *dnsmessage.MXResource:
		return b.MXResource(r.Header, *body)
	case *dnsmessage.PTRResource:
		return b.PTRResource(r.Header, *body)
	case *dnsmessage.CNAMEResource:
		return b.CNAMEResource(r.Header, *body)
	case *dnsmessage.UnknownResource:
		return b.UnknownResource(r.Header, *body)
	}
	return errors.New("dnstest: unsupported record type")
}

func typeOf(body dnsmessage.ResourceBody) dnsmessage.Type {
	switch b := body.(type) {
	case *dnsmessage.AResource:
		return dnsmessage.TypeA
	case *dnsmessage.AAAAResource:
		return dnsmessage.TypeAAAA
	case *dnsmessage.TXTResource:
		return dnsmessage.TypeTXT
	case *dnsmessage.MXResource:
		return dnsmessage.TypeMX
	case *dnsmessage.PTRResource:
		return dnsmessage.TypePTR
	case *dnsmessage.CNAMEResource:
		return dnsmessage.TypeCNAME
	case *dnsmessage.UnknownResource:
		return b.Type
	}
	return 0
}
