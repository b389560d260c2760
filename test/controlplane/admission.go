package controlplane

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
)

// webhookDuration is the API server's histogram of the admission webhook
// calls it made: one observation per call, whatever the outcome.
const webhookDuration = "apiserver_admission_webhook_admission_duration_seconds"

// WebhookCall names the calls of one admission webhook for one operation,
// as the API server labels them. Type is "admit" for a mutating webhook and
// "validating" for a validating one.
type WebhookCall struct {
	Name, Type, Operation string
}

// WebhookTotals are the number of calls and the seconds they took, summed.
type WebhookTotals struct {
	Count, Seconds float64
}

// WebhookStats are the API server's own counts of the webhook calls it made.
type WebhookStats map[WebhookCall]WebhookTotals

// WebhookStats reads what the API server has counted of its webhook calls
// since it started, from its /metrics.
func (p *Plane) WebhookStats(ctx context.Context) (WebhookStats, error) {
	raw, err := p.Clientset.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the API server's metrics: %w", err)
	}
	stats := WebhookStats{}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		var count bool
		switch {
		case strings.HasPrefix(line, webhookDuration+"_count{"):
			count = true
		case strings.HasPrefix(line, webhookDuration+"_sum{"):
		default:
			continue
		}
		open, end := strings.IndexByte(line, '{'), strings.LastIndexByte(line, '}')
		if end < open {
			return nil, fmt.Errorf("metric line %q: no label set", line)
		}
		labels := parseLabels(line[open+1 : end])
		v, err := strconv.ParseFloat(strings.TrimSpace(line[end+1:]), 64)
		if err != nil {
			return nil, fmt.Errorf("metric line %q: %w", line, err)
		}
		k := WebhookCall{Name: labels["name"], Type: labels["type"], Operation: labels["operation"]}
		t := stats[k]
		if count {
			t.Count += v // summed over the rejected label
		} else {
			t.Seconds += v
		}
		stats[k] = t
	}
	return stats, sc.Err()
}

// parseLabels reads a Prometheus label set (name="value",...); the values
// this package reads hold no escaped quotes.
func parseLabels(s string) map[string]string {
	labels := map[string]string{}
	for s != "" {
		name, rest, ok := strings.Cut(s, `="`)
		if !ok {
			break
		}
		value, rest, _ := strings.Cut(rest, `"`)
		labels[strings.TrimSpace(name)] = value
		s = strings.TrimPrefix(rest, ",")
	}
	return labels
}

// Since is what was counted after before was read.
func (s WebhookStats) Since(before WebhookStats) WebhookStats {
	d := WebhookStats{}
	for k, t := range s {
		b := before[k]
		if t.Count != b.Count {
			d[k] = WebhookTotals{Count: t.Count - b.Count, Seconds: t.Seconds - b.Seconds}
		}
	}
	return d
}

// Sum adds the totals of the calls that match: an empty field of match
// matches every value, and a name beginning with "." every webhook whose
// name ends with it (".webhook.flink-ha" is every webhook of this project).
func (s WebhookStats) Sum(match WebhookCall) WebhookTotals {
	var sum WebhookTotals
	for k, t := range s {
		if match.Type != "" && k.Type != match.Type || match.Operation != "" && k.Operation != match.Operation {
			continue
		}
		if match.Name != "" && k.Name != match.Name && !(strings.HasPrefix(match.Name, ".") && strings.HasSuffix(k.Name, match.Name)) {
			continue
		}
		sum.Count += t.Count
		sum.Seconds += t.Seconds
	}
	return sum
}
