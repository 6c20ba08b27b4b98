package main

// Metrics in the Prometheus text exposition format (version 0.0.4),
// written by hand with the standard library: counters and gauges with
// labels, nothing more. The format: one "# HELP" and one "# TYPE" line per
// family, then "name{label="value",...} number" lines; label values
// escape backslash, double quote and newline.
// https://prometheus.io/docs/instrumenting/exposition_formats/

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// metricKind is a family's TYPE.
type metricKind string

const (
	counter metricKind = "counter"
	gauge   metricKind = "gauge"
)

// family is one metric name with its help, type, label names and the
// values by label values (joined with "\x00").
type family struct {
	name, help string
	kind       metricKind
	labels     []string
	values     map[string]float64
}

// metrics is a set of families. It is safe for concurrent use.
type metrics struct {
	mu       sync.Mutex
	families map[string]*family
	// collect, when set, runs before each exposition to refresh gauges
	// read from elsewhere (the queue, the auth blocks).
	collect []func(*metrics)
}

func newMetrics() *metrics { return &metrics{families: map[string]*family{}} }

// define declares a family; defining one twice keeps the first.
func (m *metrics) define(name string, kind metricKind, help string, labels ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.families[name]; !ok {
		m.families[name] = &family{name: name, help: help, kind: kind, labels: labels, values: map[string]float64{}}
	}
}

// add adds d to the series of name with the label values lv (in the
// order the family declared its labels).
func (m *metrics) add(name string, d float64, lv ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f := m.families[name]
	if f == nil || len(lv) != len(f.labels) {
		panic("metrics: undefined family or wrong labels: " + name) // a programming error
	}
	f.values[strings.Join(lv, "\x00")] += d
}

// set sets the series of name with the label values lv.
func (m *metrics) set(name string, v float64, lv ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f := m.families[name]
	if f == nil || len(lv) != len(f.labels) {
		panic("metrics: undefined family or wrong labels: " + name)
	}
	f.values[strings.Join(lv, "\x00")] = v
}

// write writes every family, sorted by name and series, in the text
// format.
func (m *metrics) write(w io.Writer) error {
	for _, c := range m.collect {
		c(m)
	}
	var b strings.Builder
	m.mu.Lock()
	names := make([]string, 0, len(m.families))
	for n := range m.families {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		f := m.families[n]
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", f.name, escapeHelp(f.help), f.name, f.kind)
		keys := make([]string, 0, len(f.values))
		for k := range f.values {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if len(f.labels) == 0 && len(keys) == 0 {
			keys = append(keys, "") // an unlabelled series is 0 before its first change
		}
		for _, k := range keys {
			b.WriteString(f.name)
			if len(f.labels) > 0 {
				b.WriteByte('{')
				for i, v := range strings.Split(k, "\x00") {
					if i > 0 {
						b.WriteByte(',')
					}
					b.WriteString(f.labels[i])
					b.WriteString(`="`)
					b.WriteString(escapeLabel(v))
					b.WriteByte('"')
				}
				b.WriteByte('}')
			}
			b.WriteByte(' ')
			b.WriteString(formatValue(f.values[k]))
			b.WriteByte('\n')
		}
	}
	m.mu.Unlock()
	_, err := io.WriteString(w, b.String())
	return err
}

// escapeLabel escapes a label value: backslash, double quote, newline.
func escapeLabel(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

// escapeHelp escapes HELP text: backslash and newline.
func escapeHelp(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(s)
}

func formatValue(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}
