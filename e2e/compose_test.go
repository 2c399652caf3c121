package e2e

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestComposeFile checks deploy/compose.yaml against what the rest of deploy/ and the binary
// expect (no container registry is reachable here to run it): Redis keeps its data, both nodes
// share it and trust the proxy's fixed address, the proxy config it mounts exists and names the
// nodes, and every DUET_* variable it or the env file example sets is a real setting.
func TestComposeFile(t *testing.T) {
	t.Parallel()
	onceOnly(t)
	deploy := filepath.Join(readExampleDir(t), "deploy")
	var compose struct {
		Services map[string]struct {
			Image       string
			Command     []string
			EnvFile     string `yaml:"env_file"`
			Environment map[string]string
			Volumes     []string
			Healthcheck struct{ Test []string }
			Networks    yaml.Node
		}
	}
	if err := yaml.Unmarshal([]byte(readExample(t, "deploy/compose.yaml")), &compose); err != nil {
		t.Fatalf("deploy/compose.yaml: %v", err)
	}
	redis, proxy := compose.Services["redis"], compose.Services["proxy"]
	if !strings.Contains(strings.Join(redis.Command, " "), "--appendonly yes") {
		t.Errorf("redis runs %q, want --appendonly yes", redis.Command)
	}
	var proxyNet struct {
		Duet struct {
			IPv4 string `yaml:"ipv4_address"`
		}
	}
	if err := proxy.Networks.Decode(&proxyNet); err != nil || proxyNet.Duet.IPv4 == "" {
		t.Fatalf("the proxy has no fixed address on the duet network (%v)", err)
	}
	var nodes []string
	for name, s := range compose.Services {
		if !strings.HasPrefix(name, "duet") {
			continue
		}
		nodes = append(nodes, name+":8080")
		want := map[string]string{
			"DUET_ENGINE": "redis", "DUET_REDIS_URL": "redis://redis:6379/0", "DUET_TRUSTED_PROXIES": proxyNet.Duet.IPv4 + "/32",
		}
		for k, v := range want {
			if s.Environment[k] != v {
				t.Errorf("%s: %s = %q, want %q", name, k, s.Environment[k], v)
			}
		}
		if !strings.Contains(strings.Join(s.Healthcheck.Test, " "), "healthcheck --url http://127.0.0.1:8080/readyz") {
			t.Errorf("%s: health check %q, want duet healthcheck on /readyz", name, s.Healthcheck.Test)
		}
		if _, err := os.Stat(filepath.Join(deploy, s.EnvFile+".example")); err != nil {
			t.Errorf("%s: env_file %s has no example to copy: %v", name, s.EnvFile, err)
		}
	}
	slices.Sort(nodes)
	if len(nodes) != 2 {
		t.Errorf("Duet nodes in compose.yaml: %v, want two", nodes)
	}
	if got := strings.Fields(proxy.Environment["DUET_UPSTREAMS"]); !slices.Equal(slices.Sorted(slices.Values(got)), nodes) {
		t.Errorf("the proxy's DUET_UPSTREAMS = %q, want the nodes %v", got, nodes)
	}
	caddyfile := false
	for _, v := range proxy.Volumes {
		src := strings.Split(v, ":")[0]
		if strings.HasPrefix(src, "./") {
			if _, err := os.Stat(filepath.Join(deploy, src)); err != nil {
				t.Errorf("the proxy mounts %s: %v", src, err)
			}
			caddyfile = caddyfile || strings.HasSuffix(src, "Caddyfile")
		}
	}
	if !caddyfile {
		t.Errorf("the proxy mounts %q, want deploy/caddy/Caddyfile", proxy.Volumes)
	}

	known := knownVariables(t)
	used := map[string]bool{}
	for _, s := range compose.Services {
		for k := range s.Environment {
			used[k] = true
		}
	}
	env, err := os.Open(filepath.Join(deploy, "duet.env.example"))
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	for sc := bufio.NewScanner(env); sc.Scan(); {
		if k, _, ok := strings.Cut(sc.Text(), "="); ok && !strings.HasPrefix(k, "#") {
			used[k] = true
		}
	}
	for k := range used {
		if strings.HasPrefix(k, "DUET_") && !known[k] && k != "DUET_DOMAIN" && k != "DUET_UPSTREAMS" {
			t.Errorf("%s is set in deploy/ but is no setting of duet serve", k)
		}
	}
}

// knownVariables are the DUET_* variables that `duet serve -h` lists.
func knownVariables(t *testing.T) map[string]bool {
	t.Helper()
	out, _ := exec.Command(duetBin, "serve", "-h").CombinedOutput() // -h exits non-zero
	known := map[string]bool{}
	for _, v := range regexp.MustCompile(`DUET_[A-Z0-9_]+`).FindAllString(string(out), -1) {
		known[v] = true
	}
	if !known["DUET_LISTEN"] {
		t.Fatalf("duet serve -h lists no DUET_LISTEN:\n%s", out)
	}
	return known
}
