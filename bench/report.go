package bench

import (
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"
)

// Value is one stack's figure for one row: the median of the runs, or why
// there is none.
type Value struct {
	OK       bool
	Median   float64
	Min, Max float64
	Runs     int
	Note     string // "not yet measured", or the error
}

// Line is one row of the report with both stacks' values.
type Line struct {
	Row Row
	Fip Value
	Gv  Value
}

// sideRuns collects one side's metrics over the repetitions.
type sideRuns struct {
	runs []Metrics
	err  error
}

func (s *sideRuns) measure(f Side) {
	if s.err != nil {
		return
	}
	m, err := f()
	if err != nil {
		s.err = err
		return
	}
	s.runs = append(s.runs, m)
}

func (s *sideRuns) value(metric string) Value {
	if s.err != nil {
		if errors.Is(s.err, ErrNotYetMeasured) {
			return Value{Note: "not yet measured"}
		}
		if errors.Is(s.err, ErrUnavailable) {
			// "unavailable: needs root" -> "needs root"
			return Value{Note: strings.TrimPrefix(s.err.Error(), ErrUnavailable.Error()+": ")}
		}
		return Value{Note: "failed: " + s.err.Error()}
	}
	var v []float64
	for _, m := range s.runs {
		if x, ok := m[metric]; ok {
			v = append(v, x)
		}
	}
	if len(v) == 0 {
		return Value{Note: "no data"}
	}
	slices.Sort(v)
	med := v[len(v)/2]
	if len(v)%2 == 0 {
		med = (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	return Value{OK: true, Median: med, Min: v[0], Max: v[len(v)-1], Runs: len(v)}
}

// Run measures every experiment reps times on each stack, alternating
// featherip and gVisor runs so that both see the same machine conditions,
// and returns the report lines, and notes on runs whose in-memory link
// dropped frames or whose TCP retransmitted. Progress goes to log (may be
// nil).
func Run(ex []Experiment, reps int, log io.Writer) ([]Line, []string) {
	if log == nil {
		log = io.Discard
	}
	var lines []Line
	var notes []string
	for _, e := range ex {
		var fip, gv sideRuns
		t0 := time.Now()
		for range reps {
			fip.measure(e.Fip)
			gv.measure(e.Gv)
		}
		fmt.Fprintf(log, "%-45s %6.1fs\n", e.Name, time.Since(t0).Seconds())
		for _, r := range e.Rows {
			lines = append(lines, Line{Row: r, Fip: fip.value(r.Metric), Gv: gv.value(r.Metric)})
		}
		for _, s := range []struct {
			name string
			runs *sideRuns
		}{{"featherip", &fip}, {"gVisor", &gv}} {
			var drops, retrans []string
			for _, m := range s.runs.runs {
				if d, ok := m["linkdrops"]; ok {
					drops = append(drops, format(d))
				}
				if r, ok := m["retrans"]; ok {
					retrans = append(retrans, format(r))
				}
			}
			if len(drops) > 0 {
				notes = append(notes, fmt.Sprintf("%s, %s: frames dropped by the link per run: %s; TCP segments retransmitted per run: %s",
					e.Name, s.name, strings.Join(drops, ", "), strings.Join(retrans, ", ")))
			}
		}
	}
	return lines, notes
}

// format prints a number with about three significant digits.
func format(x float64) string {
	ax := math.Abs(x)
	switch {
	case ax == 0:
		return "0"
	case ax >= 1e6:
		return fmt.Sprintf("%.3g M", x/1e6)
	case ax >= 1e4:
		return fmt.Sprintf("%.0f", x)
	case ax >= 100:
		return fmt.Sprintf("%.0f", x)
	case ax >= 10:
		return fmt.Sprintf("%.1f", x)
	default:
		return fmt.Sprintf("%.2f", x)
	}
}

func (v Value) cell(unit string) string {
	if !v.OK {
		return v.Note
	}
	if unit == "" {
		return format(v.Median)
	}
	return format(v.Median) + " " + unit
}

// Ratio is featherip's figure divided by gVisor's, and whether that means
// featherip did better; ok is false when either is missing or both are 0.
func (l Line) Ratio() (ratio float64, better string, ok bool) {
	if !l.Fip.OK || !l.Gv.OK {
		return 0, "", false
	}
	if l.Gv.Median == 0 {
		if l.Fip.Median == 0 {
			return 0, "equal", false
		}
		return 0, "", false
	}
	r := l.Fip.Median / l.Gv.Median
	switch {
	case r == 1:
		better = "equal"
	case (r > 1) == l.Row.HigherBetter:
		better = "featherip"
	default:
		better = "gVisor"
	}
	return r, better, true
}

func (l Line) ratioCell() (string, string) {
	r, better, ok := l.Ratio()
	if !ok {
		if better == "equal" {
			return "both 0", "equal"
		}
		return "—", "—"
	}
	return fmt.Sprintf("%.2f×", r), better
}

// Markdown renders the lines as a Markdown table.
func Markdown(lines []Line) string {
	var b strings.Builder
	b.WriteString("| figure | featherip | gVisor netstack | featherip ÷ gVisor | better |\n")
	b.WriteString("| --- | ---: | ---: | ---: | --- |\n")
	for _, l := range lines {
		dir := "higher is better"
		if !l.Row.HigherBetter {
			dir = "lower is better"
		}
		r, better := l.ratioCell()
		fmt.Fprintf(&b, "| %s (%s) | %s | %s | %s | %s |\n", l.Row.Label, dir,
			l.Fip.cell(l.Row.Unit), l.Gv.cell(l.Row.Unit), r, better)
	}
	return b.String()
}

// Spread renders, for each measured figure, the lowest and highest of the
// runs behind each median: how much the machine moved the numbers.
func Spread(lines []Line) string {
	var b strings.Builder
	b.WriteString("| figure | featherip runs: min – max | gVisor runs: min – max |\n")
	b.WriteString("| --- | ---: | ---: |\n")
	rng := func(v Value, unit string) string {
		if !v.OK {
			return v.Note
		}
		return fmt.Sprintf("%s – %s %s (%d runs)", format(v.Min), format(v.Max), unit, v.Runs)
	}
	for _, l := range lines {
		fmt.Fprintf(&b, "| %s | %s | %s |\n", l.Row.Label, rng(l.Fip, l.Row.Unit), rng(l.Gv, l.Row.Unit))
	}
	return b.String()
}

// Text renders the lines as an aligned plain-text table for a terminal.
func Text(lines []Line) string {
	var b strings.Builder
	w := 0
	for _, l := range lines {
		w = max(w, len([]rune(l.Row.Label)))
	}
	fmt.Fprintf(&b, "%-*s  %20s  %20s  %8s  %s\n", w, "figure", "featherip", "gVisor", "ratio", "better")
	for _, l := range lines {
		r, better := l.ratioCell()
		fmt.Fprintf(&b, "%-*s  %20s  %20s  %8s  %s\n", w, l.Row.Label, l.Fip.cell(l.Row.Unit), l.Gv.cell(l.Row.Unit), r, better)
	}
	return b.String()
}
