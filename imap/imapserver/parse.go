package imapserver

import (
	"sort"
	"strings"

	"github.com/posthorn/posthorn/imap"
	"github.com/posthorn/posthorn/internal/imapwire"
	"github.com/posthorn/posthorn/mime"
)

// parsedMsg is what the server computes once per message content and
// keeps in the Message's ParseCache: the part index and the ENVELOPE,
// BODY and BODYSTRUCTURE replies, already encoded.
type parsedMsg struct {
	root          *mime.Part
	envelope      []byte
	body          []byte
	bodyStructure []byte
}

// parsed returns the message's parse, from its cache when it has one.
func (s *session) parsed(m Message) (*parsedMsg, error) {
	pc, _ := m.(ParseCache)
	if pc != nil {
		if v, ok := pc.LoadParsed().(*parsedMsg); ok {
			return v, nil
		}
	}
	ra, err := m.Open()
	if err != nil {
		return nil, err
	}
	root, err := mime.Index(ra, m.Size(), mime.Limits{})
	if root == nil {
		return nil, err
	}
	// A message over the part limit is served with the tree built so far.
	pm := &parsedMsg{root: root}
	env := envelopeOf(&root.Header)
	pm.envelope = imapwire.AppendEnvelope(nil, env)
	bs := bodyStructureOf(root)
	pm.body = imapwire.AppendBodyStructure(nil, bs, false)
	pm.bodyStructure = imapwire.AppendBodyStructure(nil, bs, true)
	if pc != nil {
		pc.StoreParsed(pm)
	}
	return pm, nil
}

func addressesOf(h *mime.Header, key string) []imap.Address {
	v := h.Get(key)
	if strings.TrimSpace(v) == "" {
		return nil
	}
	list, _ := mime.ParseAddressList(v)
	var out []imap.Address
	for _, a := range list {
		if a.Group {
			// RFC 9051 §7.5.2: group start (mailbox = name, host NIL), members, end.
			out = append(out, imap.Address{Mailbox: a.Name})
			for _, m := range a.Members {
				out = append(out, imap.Address{Name: m.Name, Mailbox: m.Mailbox, Host: m.Host})
			}
			out = append(out, imap.Address{})
			continue
		}
		out = append(out, imap.Address{Name: a.Name, Mailbox: a.Mailbox, Host: a.Host})
	}
	return out
}

// envelopeOf builds the ENVELOPE of a message header (RFC 9051 §7.5.2).
func envelopeOf(h *mime.Header) *imap.Envelope {
	env := &imap.Envelope{
		Date:      strings.TrimSpace(h.Get("Date")),
		Subject:   strings.TrimSpace(h.Get("Subject")),
		From:      addressesOf(h, "From"),
		Sender:    addressesOf(h, "Sender"),
		ReplyTo:   addressesOf(h, "Reply-To"),
		To:        addressesOf(h, "To"),
		Cc:        addressesOf(h, "Cc"),
		Bcc:       addressesOf(h, "Bcc"),
		InReplyTo: strings.TrimSpace(h.Get("In-Reply-To")),
		MessageID: strings.TrimSpace(h.Get("Message-Id")),
	}
	// Sender and Reply-To default to From.
	if len(env.Sender) == 0 {
		env.Sender = env.From
	}
	if len(env.ReplyTo) == 0 {
		env.ReplyTo = env.From
	}
	return env
}

func paramsOf(m map[string]string) []imap.Param {
	if len(m) == 0 {
		return nil
	}
	out := make([]imap.Param, 0, len(m))
	for k, v := range m {
		out = append(out, imap.Param{Name: strings.ToUpper(k), Value: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// bodyStructureOf builds the BODYSTRUCTURE of a part (RFC 9051 §7.5.2).
func bodyStructureOf(p *mime.Part) *imap.BodyStructure {
	bs := &imap.BodyStructure{
		MediaType:         strings.ToUpper(p.MediaType),
		SubType:           strings.ToUpper(p.SubType),
		Params:            paramsOf(p.Params),
		Disposition:       p.Disposition,
		DispositionParams: paramsOf(p.DispositionParams),
		Language:          p.Language,
		Location:          p.Location,
	}
	if p.IsMultipart() {
		for _, c := range p.Children {
			bs.Children = append(bs.Children, bodyStructureOf(c))
		}
		return bs
	}
	bs.ID, bs.Description, bs.MD5 = p.ID, p.Description, p.MD5
	bs.Encoding = strings.ToUpper(p.Encoding)
	if bs.Encoding == "" {
		bs.Encoding = "7BIT"
	}
	bs.Size = p.Size()
	if p.MediaType == "text" {
		bs.Lines = p.BodyLines
	}
	if p.IsMessage() {
		bs.Lines = p.BodyLines
		bs.Envelope = envelopeOf(&p.Message.Header)
		bs.Body = bodyStructureOf(p.Message)
	}
	return bs
}
