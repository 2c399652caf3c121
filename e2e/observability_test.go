package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// notFromNodes are the metric names that the dashboard and the alerts read from elsewhere than
// a node's /metrics, with where they come from.
var notFromNodes = map[string]string{
	"up":            "Prometheus itself, for every scrape",
	"probe_success": "the blackbox exporter's probe of /readyz (deploy/prometheus/prometheus.yml)",
}

// TestDashboardAndAlerts reads deploy/grafana/duet.json and deploy/prometheus/alerts.yml as
// an operator's Grafana and Prometheus would, and checks every metric their expressions read
// against a real scrape of a node that has served a chat: a name that a node does not export
// would leave a panel empty or an alert silent forever. Every duet_* metric must have a panel.
// With promtool installed, the rules, their unit tests, the scrape config and the dashboard's
// expressions are checked by Prometheus's own parser too.
func TestDashboardAndAlerts(t *testing.T) {
	t.Parallel()
	onceOnly(t)
	s, a, b, sid := chatting(t, seedDialect, withAdmin...)
	a.sayTo(b, sid, "a message for the metrics")
	exported := exportedNames(t, s)

	dashboard := dashboardExprs(t)
	rules := alertExprs(t)
	read := map[string][]string{} // metric name: where it is read
	for _, e := range append(dashboard, rules...) {
		for _, name := range metricNames(e.expr) {
			read[name] = append(read[name], e.where)
		}
	}
	for name, where := range read {
		if exported[name] == "" && notFromNodes[name] == "" {
			t.Errorf("%s is read by %s, but a node exports no such metric", name, strings.Join(slices.Compact(where), ", "))
		}
	}
	shown := map[string]bool{} // metric families on the dashboard
	for _, e := range dashboard {
		for _, name := range metricNames(e.expr) {
			shown[exported[name]] = true
		}
	}
	for _, family := range exported {
		if strings.HasPrefix(family, "duet_") && !shown[family] {
			t.Errorf("the node exports %s, but no panel of the dashboard shows it", family)
		}
	}

	t.Run("promtool", func(t *testing.T) {
		promtool, err := exec.LookPath("promtool")
		if err != nil {
			t.Skip("promtool is not installed; `make deps` installs it (Debian's prometheus)")
		}
		dir := filepath.Join(readExampleDir(t), "deploy", "prometheus")
		checks := [][]string{
			{"check", "rules", filepath.Join(dir, "alerts.yml")},
			{"test", "rules", filepath.Join(dir, "alerts_test.yml")},
			{"check", "config", "--syntax-only", filepath.Join(dir, "prometheus.yml")},
			{"check", "rules", dashboardAsRules(t, dashboard)},
		}
		for _, args := range checks {
			if out, err := exec.Command(promtool, args...).CombinedOutput(); err != nil {
				t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
			}
		}
	})
}

// expr is a PromQL expression and where it is written.
type expr struct{ where, expr string }

// dashboardExprs returns the expressions of every panel and template variable of the dashboard.
func dashboardExprs(t *testing.T) []expr {
	t.Helper()
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
		Templating struct {
			List []struct {
				Name       string
				Type       string
				Definition string
			}
		}
	}
	if err := json.Unmarshal([]byte(readExample(t, "deploy/grafana/duet.json")), &dash); err != nil {
		t.Fatalf("deploy/grafana/duet.json: %v", err)
	}
	var out []expr
	for _, p := range dash.Panels {
		for _, target := range p.Targets {
			out = append(out, expr{fmt.Sprintf("panel %q", p.Title), target.Expr})
		}
	}
	// A variable's query is Grafana's label_values(series selector, label).
	labelValues := regexp.MustCompile(`^label_values\((.+), *\w+\)$`)
	for _, v := range dash.Templating.List {
		if v.Type != "query" {
			continue
		}
		m := labelValues.FindStringSubmatch(v.Definition)
		if m == nil {
			t.Fatalf("variable %s: query %q, want label_values(selector, label)", v.Name, v.Definition)
		}
		out = append(out, expr{"variable " + v.Name, m[1]})
	}
	if len(out) < 10 {
		t.Fatalf("the dashboard has %d expressions, want its panels' (at least 10)", len(out))
	}
	return out
}

// alertExprs returns the expression of every alerting rule.
func alertExprs(t *testing.T) []expr {
	t.Helper()
	var rules struct {
		Groups []struct {
			Rules []struct{ Alert, Expr string }
		}
	}
	if err := yaml.Unmarshal([]byte(readExample(t, "deploy/prometheus/alerts.yml")), &rules); err != nil {
		t.Fatalf("deploy/prometheus/alerts.yml: %v", err)
	}
	var out []expr
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			out = append(out, expr{"alert " + r.Alert, r.Expr})
		}
	}
	if len(out) == 0 {
		t.Fatal("deploy/prometheus/alerts.yml has no rules")
	}
	return out
}

// dashboardAsRules writes the dashboard's expressions, with Grafana's variables replaced by
// what they stand for, as recording rules that promtool can check, and returns the file.
func dashboardAsRules(t *testing.T, exprs []expr) string {
	t.Helper()
	grafana := strings.NewReplacer("$__rate_interval", "5m", "$job", "duet", "$instance", ".*")
	type rule struct {
		Record string `yaml:"record"`
		Expr   string `yaml:"expr"`
	}
	var rules []rule
	for i, e := range exprs {
		rules = append(rules, rule{Record: fmt.Sprintf("dashboard:expr%d", i), Expr: grafana.Replace(e.expr)})
	}
	data, err := yaml.Marshal(map[string]any{"groups": []any{map[string]any{"name": "dashboard", "rules": rules}}})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "dashboard-rules.yml")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// exportedNames returns the name of every series that a node's /metrics serves, with the
// family it belongs to: a histogram F serves F_bucket, F_sum and F_count, a summary F, F_sum and
// F_count.
func exportedNames(t *testing.T, s *server) map[string]string {
	t.Helper()
	families := metricFamilies(t, s)
	names := map[string]string{}
	for family, f := range families {
		series := []string{""}
		switch m := f.GetMetric(); {
		case len(m) == 0:
		case m[0].GetHistogram() != nil:
			series = []string{"_bucket", "_sum", "_count"}
		case m[0].GetSummary() != nil:
			series = []string{"", "_sum", "_count"}
		}
		for _, suffix := range series {
			names[family+suffix] = family
		}
	}
	return names
}

// metricNames returns the metric names that a PromQL expression reads: its identifiers that are
// not functions or aggregations, keywords, label names (in braces or
// in the list after by, without, on, ignoring, group_left and group_right), strings, numbers,
// durations (in brackets) or Grafana variables.
func metricNames(e string) []string {
	var names []string
	for i := 0; i < len(e); {
		c := e[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			i = pastString(e, i)
		case c == '{':
			i = pastClosing(e, i, '}')
		case c == '[':
			i = pastClosing(e, i, ']')
		case c == '#':
			for i < len(e) && e[i] != '\n' {
				i++
			}
		case c == '$': // a Grafana variable
			i++
			for i < len(e) && isIdent(e[i]) {
				i++
			}
		case c >= '0' && c <= '9' || c == '.': // a number or a duration
			for i < len(e) && (isIdent(e[i]) || e[i] == '.') {
				i++
			}
		case isIdent(c):
			j := i
			for j < len(e) && isIdent(e[j]) {
				j++
			}
			word := e[i:j]
			next := j
			for next < len(e) && strings.ContainsRune(" \t\r\n", rune(e[next])) {
				next++
			}
			switch {
			case slices.Contains([]string{"by", "without", "on", "ignoring", "group_left", "group_right"}, word):
				if next < len(e) && e[next] == '(' {
					j = pastClosing(e, next, ')')
				}
			case slices.Contains([]string{"and", "or", "unless", "bool", "offset", "atan2"}, word),
				strings.EqualFold(word, "inf"), strings.EqualFold(word, "nan"):
			case next < len(e) && e[next] == '(', slices.Contains(aggregations, word):
			default:
				names = append(names, word)
			}
			i = j
		default:
			i++
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// aggregations are PromQL's aggregation operators, which may be followed by a by or without
// list before their parenthesis.
var aggregations = []string{
	"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
	"bottomk", "topk", "quantile", "limitk", "limit_ratio",
}

func isIdent(c byte) bool {
	return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// pastString returns the index just after the string literal that starts at e[i].
func pastString(e string, i int) int {
	quote := e[i]
	for i++; i < len(e); i++ {
		switch e[i] {
		case '\\':
			if quote != '`' {
				i++
			}
		case quote:
			return i + 1
		}
	}
	return len(e)
}

// pastClosing returns the index just after the bracket that closes the one at e[i], stepping
// over strings.
func pastClosing(e string, i int, closing byte) int {
	for i++; i < len(e); {
		switch e[i] {
		case '"', '\'', '`':
			i = pastString(e, i)
		case closing:
			return i + 1
		default:
			i++
		}
	}
	return len(e)
}

func TestMetricNames(t *testing.T) {
	tests := map[string][]string{
		`up{job="duet"} == 0`: {"up"},
		`sum by (instance, le) (rate(duet_send_to_push_seconds_bucket{job=~"$job", instance=~"$instance"}[$__rate_interval]))`: {"duet_send_to_push_seconds_bucket"},
		`sum(rate(a_total[5m])) by (le) / on (instance) group_left b`:                                                          {"a_total", "b"},
		`x * on (instance) group_left rate(y_total[5m] offset 1h)`:                                                             {"x", "y_total"},
		`(duet_waiting == bool duet_waiting) == 0 and on () c > Inf`:                                                           {"c", "duet_waiting"},
		`max(m{code!~"0|4", text="a } [ ( by"}) >= 2 unless n # a comment naming z`:                                            {"m", "n"},
		`histogram_quantile(0.99, sum by (le) (rate(h_bucket[5m]))) > 0.5`:                                                     {"h_bucket"},
		`topk(5, job:requests:rate5m) or vector(1)`:                                                                            {"job:requests:rate5m"},
	}
	for e, want := range tests {
		if got := metricNames(e); !slices.Equal(got, want) {
			t.Errorf("metricNames(%q) = %q, want %q", e, got, want)
		}
	}
}
