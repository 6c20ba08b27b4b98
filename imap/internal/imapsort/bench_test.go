package imapsort

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// synthetic returns n messages shaped like a mailing-list folder: threads of
// replies with References chains, list tags, some encoded subjects, a few
// missing dates and ids.
func synthetic(n int) []Message {
	r := rand.New(rand.NewPCG(7, 7))
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	topics := n / 8
	msgs := make([]Message, n)
	for i := range msgs {
		m := &msgs[i]
		m.SeqNum, m.UID = uint32(i+1), uint32(1000+i)
		m.InternalDate = base.Add(time.Duration(i) * time.Minute)
		m.Size = int64(1000 + r.IntN(50000))
		topic := r.IntN(topics)
		subj := fmt.Sprintf("[list] Topic number %d", topic)
		if topic%10 == 0 {
			subj = fmt.Sprintf("=?utf-8?q?Caf=C3=A9_number_%d?=", topic)
		}
		m.MessageID = fmt.Sprintf("<%d.%d@example.org>", i, r.Uint32())
		if i > 0 && r.IntN(3) > 0 {
			subj = "Re: " + subj
			p := &msgs[r.IntN(i)]
			m.References = p.References + " " + p.MessageID
			if len(m.References) > 400 {
				m.References = m.References[len(m.References)-400:]
			}
		}
		m.Subject = subj
		if r.IntN(50) > 0 {
			m.Date = m.InternalDate.Add(-time.Duration(r.IntN(3600)) * time.Second).Format(time.RFC1123Z)
		}
		m.From = fmt.Sprintf("User %d <user%d@example.org>", r.IntN(500), r.IntN(500))
	}
	return msgs
}

func BenchmarkSort10000(b *testing.B) {
	msgs := synthetic(10000)
	cached := slices.Clone(msgs)
	for i := range cached {
		cached[i].Sent = cached[i].SentDate()
	}
	b.Run("date_cached", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(cached)))
		for range b.N {
			Sort(cached, []Criterion{{Key: Date}})
		}
	})
	for _, bc := range []struct {
		name string
		crit []Criterion
	}{
		{"date", []Criterion{{Key: Date}}},
		{"subject", []Criterion{{Key: Subject}}},
		{"reverse_arrival", []Criterion{{Key: Arrival, Reverse: true}}},
		{"from_date", []Criterion{{Key: From}, {Key: Date}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(msgs)))
			for range b.N {
				Sort(msgs, bc.crit)
			}
		})
	}
	// With Keys cached, as the server runs it; ranks once, then by rank.
	keyed := withKeys(msgs)
	b.Run("subject_keys", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(keyed)))
		for range b.N {
			Sort(keyed, []Criterion{{Key: Subject}})
		}
	})
	b.Run("subject_ranks", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(keyed)))
		for range b.N {
			Ranks(keyed, Subject)
		}
	})
	ranks := Ranks(keyed, Subject)
	b.Run("subject_by_rank", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(keyed)))
		for range b.N {
			SortByRank(keyed, ranks, false)
		}
	})
}

func BenchmarkThread10000(b *testing.B) {
	msgs := synthetic(10000)
	b.Run("references", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(msgs)))
		for range b.N {
			References(msgs)
		}
	})
	b.Run("orderedsubject", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(msgs)))
		for range b.N {
			OrderedSubject(msgs)
		}
	})
	threads := References(msgs)
	b.Run("format", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(msgs)))
		var buf []byte
		for range b.N {
			buf = AppendThreads(buf[:0], threads, true)
		}
	})
}
